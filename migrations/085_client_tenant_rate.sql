-- 085_client_tenant_rate: per-client overrides of the tenant-wide events/s limit.
--
-- The tenant bucket (RATE_TENANT_EVENTS_PER_SECOND, RATE_TENANT_EVENT_BURST)
-- sits beside the per-key ones, so that a client's keys together get no more
-- than it; a NULL column keeps the configured default, as for the other
-- columns of client_limits. Set with `central-logger limits set`.

alter table client_limits
  add column tenant_events_per_second double precision check (tenant_events_per_second > 0),
  add column tenant_event_burst       integer check (tenant_event_burst > 0);
