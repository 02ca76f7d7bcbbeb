-- 030_client_limits: per-client ingest limit overrides and quota warnings.
--
-- client_limits: a row overrides the configured defaults (RATE_* settings) for
-- one client; a NULL column keeps that default. Ingest processes re-read a
-- client's row after LIMITS_CACHE_TTL_MS, so a change takes effect without a
-- restart. Rates are per key, the daily quota per client (UTC day).
--
-- quota_warnings: written by ingest when a client's events today first reach
-- 80% and 100% of its daily quota; at most one row per client, day and
-- threshold, for the admin app to show and alert on.

create table client_limits (
  client_id           text primary key references clients (id) on delete cascade,
  requests_per_second double precision check (requests_per_second > 0),
  request_burst       integer check (request_burst > 0),
  events_per_second   double precision check (events_per_second > 0),
  event_burst         integer check (event_burst > 0),
  events_per_day      bigint check (events_per_day > 0),
  updated_at          timestamptz not null default now()
);

create table quota_warnings (
  client_id      text not null references clients (id) on delete cascade,
  day            date not null,
  threshold      smallint not null check (threshold in (80, 100)),
  events_used    bigint not null,
  events_per_day bigint not null,
  recorded_at    timestamptz not null default now(),
  primary key (client_id, day, threshold)
);
