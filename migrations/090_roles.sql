-- 090_roles: one Postgres role per process, each granted only what it does.
--
-- The role running migrations (DATABASE_URL: the owner of every table) runs
-- `central-logger migrate` and nothing else. The apps connect as:
--   central_logger_ingest  ingest-api: key and client lookups, tenant self-service keys,
--                          auth failures, heartbeats, limits and quota warnings
--   central_logger_worker  worker: inserts logs and dead letters, usage roll-ups, alert
--                          rules, pruning; partitions and retention only through the
--                          SECURITY DEFINER functions below
--   central_logger_admin   admin app and CLI: clients, keys, admin users and sessions,
--                          audit, limits, usage, alerts, dead letters, log counts
--   central_logger_reader  tenant reads (migration 020): SELECT workflow_logs under RLS
-- Each is LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing and is a member of no
-- other role. Roles are cluster-wide, so they are created only when missing
-- (two databases migrated at once may race: the loser's duplicate is ignored);
-- grants and policies are per database. No passwords here: `migrate` sets them
-- from INGEST_DB_PASSWORD, WORKER_DB_PASSWORD, ADMIN_DB_PASSWORD, READER_PASSWORD.
-- Creating roles needs CREATEROLE (a managed Postgres's master user has it).
--
-- A table added later needs its line in the grants below (a new migration):
-- grant to each role what that process does with it, nothing for the others.

do $$
declare
  r text;
begin
  foreach r in array array['central_logger_ingest', 'central_logger_worker', 'central_logger_admin'] loop
    if not exists (select 1 from pg_roles where rolname = r) then
      begin
        execute format('create role %I login nosuperuser nobypassrls nocreatedb nocreaterole noinherit', r);
      exception
        when duplicate_object or unique_violation then null;
      end;
    end if;
  end loop;
end
$$;

-- ---------------------------------------------------------------- ingest-api
grant select, insert, update on api_keys to central_logger_ingest;
grant select on clients to central_logger_ingest;
grant update (last_heartbeat_at) on clients to central_logger_ingest;
grant insert on auth_failures to central_logger_ingest;
grant select on client_limits to central_logger_ingest;
grant select, insert on quota_warnings to central_logger_ingest;

-- ---------------------------------------------------------------- worker
-- every column of api_keys but the secret's hash
grant select (id, prefix, hash_version, role, client_id, name, is_active, created_at, last_used_at, last_used_ip,
              expires_at, revoked_at, rotated_from, replaced_by, request_count) on api_keys to central_logger_worker;
grant select on clients to central_logger_worker;
grant insert on workflow_logs to central_logger_worker;
grant select, insert on dead_letter_events to central_logger_worker;
grant select, insert, update, delete on usage_hourly to central_logger_worker;
grant select, insert, update, delete on key_addresses to central_logger_worker;
grant select, insert, update, delete on alerts to central_logger_worker;
grant select, delete on auth_failures to central_logger_worker;
grant select, delete on admin_login_failures to central_logger_worker;
grant select on quota_warnings to central_logger_worker;
-- pruning ended sessions (ids are digests of the tokens: reading them signs no one in)
grant select, delete on admin_sessions to central_logger_worker;

-- ---------------------------------------------------------------- admin (app and CLI)
grant select, insert, update on clients to central_logger_admin;
grant select, insert, update on api_keys to central_logger_admin;
grant select, insert, update on admin_users to central_logger_admin;
grant select, insert, update on admin_sessions to central_logger_admin;
grant select, insert on admin_login_failures to central_logger_admin;
grant select, insert on admin_audit to central_logger_admin;
grant select, insert on auth_failures to central_logger_admin;
grant select, insert, update, delete on client_limits to central_logger_admin;
grant select on quota_warnings to central_logger_admin;
grant select on usage_hourly to central_logger_admin;
grant select on key_addresses to central_logger_admin;
grant select, update on alerts to central_logger_admin;
grant select, delete on dead_letter_events to central_logger_admin;
-- per-client event counts, and `dead-letters replay`; across tenants, by the policies below
grant select, insert on workflow_logs to central_logger_admin;

-- ---------------------------------------------------------------- workflow_logs policies
-- (row security is forced on it: migration 020; the reader's policy is there and in 091)
create policy workflow_logs_worker_insert on workflow_logs for insert to central_logger_worker with check (true);
create policy workflow_logs_admin_select on workflow_logs for select to central_logger_admin using (true);
create policy workflow_logs_admin_insert on workflow_logs for insert to central_logger_admin with check (true);

-- ---------------------------------------------------------------- worker maintenance
-- DDL on workflow_logs needs its owner: the worker gets these functions, owned
-- by the owner, run with its rights, and executable by nobody else. Each does
-- one narrow thing and checks its own limits, so a worker (or an injection
-- into it) can create day partitions and remove only what retention expired.
-- The caller's lock_timeout applies inside them. search_path: public first, so
-- that the partitions are created there (pg_catalog is always searched first).

alter function ensure_workflow_logs_partitions(date, date) security definer set search_path = public, pg_temp;

-- Drops one day partition of workflow_logs whose whole day is older than the
-- longest retention of any client (default 30 days) as of the server's clock;
-- false (and nothing dropped) for any other name or a day still kept.
create function drop_expired_workflow_logs_partition(p_name text) returns boolean
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  day date;
  longest integer;
begin
  if p_name !~ '^workflow_logs_p[0-9]{8}$' then return false; end if;
  if not exists (select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                 where i.inhparent = 'workflow_logs'::regclass and c.relname = p_name) then
    return false;
  end if;
  day := to_date(right(p_name, 8), 'YYYYMMDD');
  select coalesce(max(retention_days), 30) into longest from clients;
  if ((day + 1)::timestamp at time zone 'UTC') > now() - make_interval(days => longest) then return false; end if;
  execute format('drop table if exists %I', p_name);
  return true;
end;
$$;

-- Deletes at most p_batch rows of one client executed before p_cutoff, and
-- never rows younger than that client's retention as of the server's clock.
-- Returns the rows deleted.
create function delete_expired_workflow_logs(p_client text, p_cutoff timestamptz, p_batch integer) returns integer
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  keep integer;
  n integer;
begin
  select retention_days into keep from clients where id = p_client;
  if keep is null then return 0; end if;
  delete from workflow_logs
  where (client_id, event_id, executed_at) in (
    select client_id, event_id, executed_at from workflow_logs
    where client_id = p_client and executed_at < least(p_cutoff, now() - make_interval(days => keep))
    limit greatest(p_batch, 0));
  get diagnostics n = row_count;
  return n;
end;
$$;

revoke execute on function ensure_workflow_logs_partitions(date, date) from public;
revoke execute on function drop_expired_workflow_logs_partition(text) from public;
revoke execute on function delete_expired_workflow_logs(text, timestamptz, integer) from public;
grant execute on function ensure_workflow_logs_partitions(date, date) to central_logger_worker;
grant execute on function drop_expired_workflow_logs_partition(text) to central_logger_worker;
grant execute on function delete_expired_workflow_logs(text, timestamptz, integer) to central_logger_worker;
