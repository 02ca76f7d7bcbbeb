-- 001_init: tenants (clients), their API keys, and the log table.
--
-- workflow_logs is range-partitioned by executed_at into UTC days so that
-- retention drops whole partitions and time-bounded reads prune. A default
-- partition catches any day whose partition does not exist yet; the function
-- ensure_workflow_logs_partitions(from, to) creates days ahead and moves any
-- caught rows into their day. The unique key (client_id, event_id, executed_at)
-- makes the worker's insert idempotent: a job delivered twice stores once.

create table clients (
  id                text primary key check (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
  name              text not null,
  is_active         boolean not null default true,
  created_at        timestamptz not null default now(),
  deactivated_at    timestamptz,
  last_heartbeat_at timestamptz
);

create table api_keys (
  id            text primary key,
  -- the public part of the key, in clear: shown in lists and logs, used for lookup
  prefix        text not null unique,
  key_hash      text not null,
  -- 1: SHA-256 hex of the whole key (legacy); 2: bcrypt of the SHA-256 hex of the whole key
  hash_version  smallint not null check (hash_version in (1, 2)),
  role          text not null check (role in ('agent', 'reader', 'owner', 'admin')),
  client_id     text references clients (id),
  name          text not null,
  is_active     boolean not null default true,
  created_at    timestamptz not null default now(),
  last_used_at  timestamptz,
  last_used_ip  text,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  -- admin keys belong to no tenant; every other key belongs to exactly one
  constraint api_keys_client_matches_role check ((role = 'admin') = (client_id is null))
);
create index api_keys_client_idx on api_keys (client_id, created_at desc);

create table workflow_logs (
  client_id    text not null,
  event_id     text not null,
  received_at  timestamptz not null,
  executed_at  timestamptz not null,
  stored_at    timestamptz not null default now(),
  environment  text not null,
  workflow     text,
  run_id       text,
  status       text not null,
  level        text,
  message      text,
  duration_ms  double precision,
  metadata     jsonb not null default '{}'::jsonb,
  constraint workflow_logs_event_key unique (client_id, event_id, executed_at)
) partition by range (executed_at);

-- a tenant's newest first, and the keyset cursor (executed_at, event_id)
create index workflow_logs_client_time_idx on workflow_logs (client_id, executed_at desc, event_id desc);

create table workflow_logs_default partition of workflow_logs default;

create function ensure_workflow_logs_partitions(p_from date, p_to date) returns integer
language plpgsql as $$
declare
  d date;
  part text;
  lo timestamptz;
  hi timestamptz;
  created integer := 0;
begin
  for d in select generate_series(p_from, p_to, interval '1 day')::date loop
    part := format('workflow_logs_p%s', to_char(d, 'YYYYMMDD'));
    continue when to_regclass(part) is not null;
    lo := d::timestamp at time zone 'UTC';
    hi := (d + 1)::timestamp at time zone 'UTC';
    if exists (select 1 from workflow_logs_default where executed_at >= lo and executed_at < hi) then
      -- rows for this day arrived before its partition: move them in, then attach
      execute format('create table %I (like workflow_logs including defaults including constraints)', part);
      execute format(
        'with moved as (delete from workflow_logs_default where executed_at >= $1 and executed_at < $2 returning *)
         insert into %I select * from moved', part) using lo, hi;
      execute format('alter table workflow_logs attach partition %I for values from (%L) to (%L)', part, lo, hi);
    else
      execute format('create table %I partition of workflow_logs for values from (%L) to (%L)', part, lo, hi);
    end if;
    created := created + 1;
  end loop;
  return created;
end;
$$;

select ensure_workflow_logs_partitions(current_date - 31, current_date + 3);
