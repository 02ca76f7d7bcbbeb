-- 010_key_lifecycle: rotation lineage, usage counters, failed-authentication log.
--
-- api_keys.rotated_from / replaced_by: a rotation creates a new key and lets
--   the old one expire after a grace period; both ends of the link are kept
--   so either key shows which one replaced which.
-- api_keys.request_count: requests authenticated with the key, added up in
--   each ingest-api process and flushed in one UPDATE every few seconds.
-- auth_failures: one row per failed authentication (address, key prefix if
--   the key had a recognisable one, reason, time), buffered in each process
--   and inserted in batches; the admin issue's alert rules read it.

alter table api_keys
  add column rotated_from  text references api_keys (id),
  add column replaced_by   text references api_keys (id),
  add column request_count bigint not null default 0;

create table auth_failures (
  id           bigint generated always as identity primary key,
  occurred_at  timestamptz not null,
  address      text not null,
  -- the public part of the key (`clk_…` / `lgc_…`), never the key itself; null when none was recognisable
  key_prefix   text,
  -- api_key_required | malformed_key | unknown_key | wrong_secret | api_key_revoked
  -- | api_key_expired | client_inactive | rate_limited
  reason       text not null
);
create index auth_failures_time_idx on auth_failures (occurred_at);
create index auth_failures_address_idx on auth_failures (address, occurred_at);
create index auth_failures_prefix_idx on auth_failures (key_prefix, occurred_at) where key_prefix is not null;
