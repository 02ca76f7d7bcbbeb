-- 020_reads: tenant reads isolated by Postgres itself, their indexes, and retention.
--
-- Isolation: workflow_logs gets row-level security, FORCE'd so that even the
-- table owner goes through a policy. Tenants read through the LOGIN role
-- central_logger_reader (READ_DATABASE_URL), which owns nothing, has no
-- BYPASSRLS and may only SELECT workflow_logs; it sees the rows whose
-- client_id equals the transaction-local setting app.client_id, and nothing
-- when that setting is unset ('' or NULL). The role is cluster-wide, so it is
-- created only when missing (concurrent migrations of two databases may race:
-- the loser's duplicate is ignored). It gets no password here: set one with
-- ALTER ROLE where the server does not trust local connections.
-- The migrating role (the owner: worker inserts, retention) keeps full access
-- through its own explicit policy.
--
-- Indexes: q searches message with pg_trgm (ILIKE '%…%'), per tenant through
-- btree_gin (client_id, message); status filters and stats by status use
-- (client_id, status, executed_at desc, event_id desc).
--
-- Retention: clients.retention_days (default 30) says how long a tenant's
-- rows are kept; the worker's maintenance job enforces it.

create extension if not exists pg_trgm;
create extension if not exists btree_gin;

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'central_logger_reader') then
    create role central_logger_reader login nosuperuser nobypassrls nocreatedb nocreaterole noinherit;
  end if;
exception
  when duplicate_object or unique_violation then null;
end
$$;

grant select on workflow_logs to central_logger_reader;

alter table workflow_logs enable row level security;
alter table workflow_logs force row level security;

-- nullif: an unset setting reads as '' after any transaction set it, never a tenant
create policy workflow_logs_tenant on workflow_logs
  for select to central_logger_reader
  using (client_id = nullif(current_setting('app.client_id', true), ''));

do $$
begin
  execute format('create policy workflow_logs_owner on workflow_logs to %I using (true) with check (true)', current_user);
end
$$;

create index workflow_logs_client_message_trgm_idx on workflow_logs using gin (client_id, message gin_trgm_ops);
create index workflow_logs_client_status_time_idx on workflow_logs (client_id, status, executed_at desc, event_id desc);

alter table clients add column retention_days integer not null default 30
  check (retention_days between 1 and 3650);
