-- 040_admin_users: the provider's admin users, their sessions, failed sign-ins
-- and the audit log of every state-changing admin action.
--
-- admin_sessions.id is the SHA-256 hex digest of the session token; the token
-- itself lives only in the browser's cookie, so a database dump signs no one in.
-- admin_login_failures keeps each failed sign-in (username as typed, address,
-- time) as evidence for the alert rules. admin_audit is append-only: actor is
-- the admin username, or the admin key's prefix (`clk_…`), never a full key.

create table admin_users (
  username       text primary key check (username ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
  -- bcrypt of the SHA-256 hex digest of the password (bcrypt reads only 72 bytes)
  password_hash  text not null,
  created_at     timestamptz not null default now(),
  last_login_at  timestamptz
);

create table admin_sessions (
  id          text primary key,
  username    text not null references admin_users (username) on delete cascade,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  revoked_at  timestamptz,
  ip          text,
  user_agent  text
);
create index admin_sessions_user_idx on admin_sessions (username, created_at desc);

create table admin_login_failures (
  id        bigint generated always as identity primary key,
  username  text not null,
  ip        text,
  at        timestamptz not null default now()
);
-- the alert rules count recent failures per address and per username
create index admin_login_failures_ip_idx on admin_login_failures (ip, at desc);
create index admin_login_failures_user_idx on admin_login_failures (username, at desc);

create table admin_audit (
  id       bigint generated always as identity primary key,
  actor    text not null,
  action   text not null,
  target   text,
  details  jsonb not null default '{}'::jsonb,
  ip       text,
  at       timestamptz not null default now()
);
create index admin_audit_at_idx on admin_audit (at desc, id desc);
