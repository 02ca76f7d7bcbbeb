-- 091_tenant_tokens: the reader role can no longer choose its tenant.
--
-- Until now the read policy trusted app.client_id, a setting any session may
-- set: SQL injected into the read path could set another tenant's id and read
-- its logs. Now a transaction must also carry app.tenant_token =
-- '<expires, unix seconds>.<hex HMAC-SHA256(secret, "<expires>:<client_id>")>',
-- which ingest-api signs per transaction (withTenant) with a secret that the
-- reader role cannot read. The policy compares client_id with app_tenant(),
-- which returns app.client_id only when its token verifies and has not
-- expired, and NULL (no rows) otherwise. It runs once per statement (an
-- InitPlan), so the read path keeps its one pipelined set_config.
--
-- tenant_token_secret: one row, 32 random bytes made here (gen_random_uuid
-- draws from the server's strong random source). Readable by the owner and by
-- central_logger_ingest (which signs), never by the reader. To rotate it:
-- `update tenant_token_secret set secret = <32 new bytes>`, then restart the
-- ingest-api processes (reads fail, seeing no rows, until they do).
-- HMAC is built from the core sha256() (no pgcrypto): the key's inner and
-- outer pads are kept beside it, computed on write.

create function tenant_token_pad(p_key bytea, p_pad integer) returns bytea
language plpgsql immutable strict set search_path = pg_catalog, pg_temp as $$
declare
  out bytea := p_key || decode(repeat('00', 64 - length(p_key)), 'hex');
begin
  for i in 0..63 loop
    out := set_byte(out, i, get_byte(out, i) # p_pad);
  end loop;
  return out;
end;
$$;

create table tenant_token_secret (
  only_row   boolean primary key default true check (only_row),
  secret     bytea not null check (length(secret) between 32 and 64),
  inner_key  bytea generated always as (tenant_token_pad(secret, 54)) stored,
  outer_key  bytea generated always as (tenant_token_pad(secret, 92)) stored
);

insert into tenant_token_secret (secret)
values (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));

grant select (secret) on tenant_token_secret to central_logger_ingest;

-- The tenant this transaction was bound to by a valid token; NULL otherwise.
create function app_tenant() returns text
language plpgsql stable parallel restricted security definer set search_path = public, pg_temp as $$
declare
  c text := nullif(current_setting('app.client_id', true), '');
  t text := current_setting('app.tenant_token', true);
  expires bigint;
  k record;
begin
  if c is null or t is null or t !~ '^[0-9]{1,12}\.[0-9a-f]{64}$' then return null; end if;
  expires := split_part(t, '.', 1)::bigint;
  if expires < extract(epoch from now()) then return null; end if;
  select inner_key, outer_key into k from tenant_token_secret;
  if encode(sha256(k.outer_key || sha256(k.inner_key || convert_to(expires || ':' || c, 'UTF8'))), 'hex') = split_part(t, '.', 2) then
    return c;
  end if;
  return null;
end;
$$;

revoke execute on function tenant_token_pad(bytea, integer) from public;
revoke execute on function app_tenant() from public;
grant execute on function app_tenant() to central_logger_reader;

drop policy workflow_logs_tenant on workflow_logs;
-- (select …): an InitPlan, evaluated once per statement and usable as an index condition
create policy workflow_logs_tenant on workflow_logs
  for select to central_logger_reader
  using (client_id = (select app_tenant()));
