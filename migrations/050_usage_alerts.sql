-- 050_usage_alerts: usage roll-ups, per-key address history, alerts.
--
-- usage_hourly: one row per key and UTC hour, the absolute totals of the
--   counters ingest keeps in Redis (one hash per hour). The roll-up job
--   upserts absolute values, so a re-run or two workers at once never double
--   count; a row only moves forward (a snapshot with fewer requests is older).
--   client_id is the key's client (null for admin keys). Daily figures are a
--   GROUP BY over the hours.
-- key_addresses: every address a key was used from, first and last seen,
--   written by the roll-up (no write per request). novel_at is set when the
--   address is new to the key, or unused by it for 30 days: alert rule 4.
--   Seeded with each key's last_used_ip, the one address known before this.
-- alerts: one row per rule, subject and window (window_start), so a condition
--   that persists updates its alert's evidence instead of raising another.

create table usage_hourly (
  hour             timestamptz not null,
  key_id           text not null references api_keys (id) on delete cascade,
  client_id        text references clients (id) on delete cascade,
  requests         bigint not null default 0,
  events_accepted  bigint not null default 0,
  bytes            bigint not null default 0,
  auth_failures    bigint not null default 0,
  rate_limited     bigint not null default 0,
  -- {"validation_failed": 3, "payload_too_large": 1, ...}: events (or requests, when the count is unknown) refused, by error code
  rejected         jsonb not null default '{}'::jsonb,
  updated_at       timestamptz not null default now(),
  primary key (hour, key_id)
);
create index usage_hourly_client_idx on usage_hourly (client_id, hour);
create index usage_hourly_key_idx on usage_hourly (key_id, hour);

create table key_addresses (
  key_id      text not null references api_keys (id) on delete cascade,
  address     text not null,
  first_seen  timestamptz not null,
  last_seen   timestamptz not null,
  novel_at    timestamptz,
  primary key (key_id, address)
);
create index key_addresses_novel_idx on key_addresses (novel_at) where novel_at is not null;
-- what is known already: each key's last address, so the first roll-up does not call it new
insert into key_addresses (key_id, address, first_seen, last_seen)
select id, last_used_ip, last_used_at, last_used_at from api_keys where last_used_ip is not null and last_used_at is not null;

create table alerts (
  id               text primary key,
  -- auth_failures_address | auth_failures_prefix | dead_key_in_use | new_address | request_spike | dormant_key_active | quota
  rule             text not null,
  -- what it is about: an address, a key prefix, key:address, a client and threshold
  subject          text not null,
  window_start     timestamptz not null,
  severity         text not null check (severity in ('info', 'warning', 'critical')),
  summary          text not null,
  evidence         jsonb not null,
  client_id        text,
  key_id           text,
  raised_at        timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  acknowledged_at  timestamptz,
  acknowledged_by  text
);
create unique index alerts_dedupe_idx on alerts (rule, subject, window_start);
create index alerts_open_idx on alerts (raised_at desc) where acknowledged_at is null;
create index alerts_raised_idx on alerts (raised_at desc, id desc);
