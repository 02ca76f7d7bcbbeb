import { randomBytes } from 'node:crypto';
import type { Sql, Tx } from '@central-logger/db';
import { hashPassword } from './passwords.js';

/** The roles a person of a tenant may hold: the API key roles that read (reader) or also manage (owner). */
export const USER_ROLES = ['owner', 'reader'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** Ids of tenant users: `usr_` and 20 random base62-ish characters. */
export const USER_ID_PREFIX = 'usr_';
export const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export interface TenantUser {
  id: string;
  clientId: string;
  username: string;
  role: UserRole;
  isActive: boolean;
  createdAt: Date;
  createdBy: string | null;
  lastLoginAt: Date | null;
  deactivatedAt: Date | null;
}

/** What signing in needs: the user, the password hash, and whether the user's client is active. */
export interface UserForSignIn extends TenantUser {
  passwordHash: string | null;
  clientActive: boolean;
}

/** What a token's holder is allowed as, re-read when the cache forgets it. */
export interface UserState {
  id: string;
  clientId: string;
  username: string;
  role: UserRole;
  active: boolean;
  clientActive: boolean;
  retentionDays: number | null;
}

type Db = Sql | Tx;

export function newUserId(): string {
  return USER_ID_PREFIX + randomBytes(15).toString('base64url').replace(/[-_]/g, '0');
}

/** `username` as a user JSON answer shows it: never the hash. */
export function userJson(u: TenantUser) {
  return {
    id: u.id,
    client_id: u.clientId,
    username: u.username,
    role: u.role,
    is_active: u.isActive,
    created_at: u.createdAt,
    created_by: u.createdBy,
    last_login_at: u.lastLoginAt,
    deactivated_at: u.deactivatedAt,
  };
}

/** Creates a user of `clientId`; a taken username (any tenant, any case) throws a unique violation (23505). */
export async function createTenantUser(
  sql: Db,
  u: { clientId: string; username: string; role: UserRole; password: string | null; bcryptCost: number; createdBy: string | null },
): Promise<TenantUser> {
  const hash = u.password === null ? null : await hashPassword(u.password, u.bcryptCost);
  const [r] = await sql`
    insert into tenant_users (id, client_id, username, role, password_hash, created_by)
    values (${newUserId()}, ${u.clientId}, ${u.username}, ${u.role}, ${hash}, ${u.createdBy})
    returning *`;
  return toUser(r!);
}

/** The user signing in as `username` (case-insensitive), with their client's state. */
export async function findUserForSignIn(sql: Db, username: string): Promise<UserForSignIn | undefined> {
  const [r] = await sql`
    select u.*, c.is_active as client_active from tenant_users u join clients c on c.id = u.client_id
    where lower(u.username) = lower(${username})`;
  return r ? { ...toUser(r), passwordHash: (r.password_hash as string | null) ?? null, clientActive: r.client_active as boolean } : undefined;
}

export async function userState(sql: Db, userId: string): Promise<UserState | undefined> {
  const [r] = await sql`
    select u.id, u.client_id, u.username, u.role, u.is_active, c.is_active as client_active, c.retention_days
    from tenant_users u join clients c on c.id = u.client_id where u.id = ${userId}`;
  if (!r) return undefined;
  return {
    id: r.id as string,
    clientId: r.client_id as string,
    username: r.username as string,
    role: r.role as UserRole,
    active: r.is_active as boolean,
    clientActive: r.client_active as boolean,
    retentionDays: (r.retention_days as number | null) ?? null,
  };
}

export async function recordSignIn(sql: Db, userId: string): Promise<void> {
  await sql`update tenant_users set last_login_at = now() where id = ${userId}`;
}

/** A tenant's users, oldest first; every tenant's when `clientId` is undefined (the provider's view). */
export async function listTenantUsers(sql: Db, clientId?: string): Promise<TenantUser[]> {
  const rows =
    clientId === undefined
      ? await sql`select * from tenant_users order by client_id, created_at, id`
      : await sql`select * from tenant_users where client_id = ${clientId} order by created_at, id`;
  return rows.map(toUser);
}

/** The user by id or username; undefined when none. */
export async function getTenantUser(sql: Db, idOrUsername: string): Promise<TenantUser | undefined> {
  const [r] = await sql`select * from tenant_users where id = ${idOrUsername} or lower(username) = lower(${idOrUsername}) limit 1`;
  return r ? toUser(r) : undefined;
}

/** Deactivates a user; undefined when there is none, the user as it was when already inactive. Announce it (publishUserDeactivated) after the commit. */
export async function deactivateTenantUser(sql: Db, userId: string): Promise<TenantUser | undefined> {
  const [r] = await sql`
    update tenant_users set is_active = false, deactivated_at = coalesce(deactivated_at, now())
    where id = ${userId} returning *`;
  return r ? toUser(r) : undefined;
}

/** A tenant_users row as a TenantUser. */
export function toUser(r: Record<string, unknown>): TenantUser {
  return {
    id: r.id as string,
    clientId: r.client_id as string,
    username: r.username as string,
    role: r.role as UserRole,
    isActive: r.is_active as boolean,
    createdAt: r.created_at as Date,
    createdBy: (r.created_by as string | null) ?? null,
    lastLoginAt: (r.last_login_at as Date | null) ?? null,
    deactivatedAt: (r.deactivated_at as Date | null) ?? null,
  };
}
