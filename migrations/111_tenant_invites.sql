-- 111_tenant_invites: an owner invites a person to their tenant (issue 14).
--
-- An invite names the username and role to be; its secret (32 random bytes,
-- shown once, as a one-time link) is stored only as its SHA-256 digest. It is
-- valid 24 hours (expires_at) and for one use: accepting it sets the password
-- and creates the user, through accept_tenant_invite(), which owns the rule
-- (one use, not expired) so that ingest-api needs no INSERT on tenant_users.
--
-- Parameters of accept_tenant_invite: the digest of the invite's secret, the
-- new user's id and the bcrypt hash of their password. Returns the user, or
-- no row when the invite is unknown, used or expired; a taken username fails
-- with unique_violation (23505) and uses nothing.
--
-- Grants: ingest-api creates and reads invites (owner self-service) and runs
-- the function; the admin app reads them. The worker and the reader: nothing.

create table tenant_invites (
  id           text primary key check (id ~ '^inv_[A-Za-z0-9]{8,64}$'),
  client_id    text not null references clients (id),
  username     text not null check (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
  role         text not null check (role in ('owner', 'reader')),
  token_digest text not null unique,
  created_by   text not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz not null,
  accepted_at  timestamptz,
  user_id      text references tenant_users (id)
);
create index tenant_invites_client_idx on tenant_invites (client_id, created_at);

create function accept_tenant_invite(p_digest text, p_user_id text, p_password_hash text)
returns table (id text, client_id text, username text, role text)
language plpgsql security definer set search_path = pg_catalog, public as $$
#variable_conflict use_column
declare
  inv tenant_invites;
begin
  update tenant_invites i set accepted_at = now()
   where i.token_digest = p_digest and i.accepted_at is null and i.expires_at > now()
   returning * into inv;
  if not found then
    return;
  end if;
  insert into tenant_users (id, client_id, username, role, password_hash, created_by)
  values (p_user_id, inv.client_id, inv.username, inv.role, p_password_hash, 'invite:' || inv.id);
  update tenant_invites i set user_id = p_user_id where i.id = inv.id;
  return query select p_user_id, inv.client_id, inv.username, inv.role;
end
$$;
revoke all on function accept_tenant_invite(text, text, text) from public;
grant execute on function accept_tenant_invite(text, text, text) to central_logger_ingest;

grant select, insert on tenant_invites to central_logger_ingest;
grant select on tenant_invites to central_logger_admin;
