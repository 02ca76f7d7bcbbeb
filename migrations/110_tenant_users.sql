-- 110_tenant_users: people of a tenant who sign in to the ingest API (issue 14).
--
-- A tenant user has a role (owner or reader: the API key roles a person may
-- hold), a username unique across all tenants (sign-in names no tenant), and
-- a bcrypt hash of the SHA-256 digest of their password (null until an invited
-- user sets one). Signing in gives a short-lived token (15 min, HS256) that
-- ingest-api verifies without the database; it trusts a user's active state
-- for at most KEY_CACHE_TTL_MS and forgets it when a deactivation is announced
-- on the key invalidation channel.
--
-- Grants (090's rule: each process what it does, nothing else):
--   central_logger_ingest  sign-in: read users, stamp last_login_at
--   central_logger_admin   the provider creates, lists and deactivates users (app and CLI)
-- The worker and the reader never see this table.

create table tenant_users (
  id             text primary key check (id ~ '^usr_[A-Za-z0-9]{8,64}$'),
  client_id      text not null references clients (id),
  username       text not null check (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
  role           text not null check (role in ('owner', 'reader')),
  password_hash  text,
  is_active      boolean not null default true,
  created_at     timestamptz not null default now(),
  created_by     text,
  last_login_at  timestamptz,
  deactivated_at timestamptz
);
create unique index tenant_users_username_idx on tenant_users (lower(username));
create index tenant_users_client_idx on tenant_users (client_id, created_at);

grant select on tenant_users to central_logger_ingest;
grant update (last_login_at) on tenant_users to central_logger_ingest;
grant select, insert, update on tenant_users to central_logger_admin;
