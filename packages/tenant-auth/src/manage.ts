import type { RedisClient as Redis } from '@central-logger/redis';
import { recordAudit, type Sql, type Tx } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { deactivateUserEverywhere, publishUserInvalidation } from './invalidation.js';
import { toUser, USER_ROLES, type TenantUser } from './users.js';

/** Who acts on a tenant's users: an owner of that tenant (a user or an owner key), named for the audit log. */
export interface TenantActor {
  clientId: string;
  /** The acting user's id, when a user acts: nobody demotes or deactivates themselves (the last owner would lock the tenant out). */
  userId?: string;
  actor: string;
  ip: string | null;
}

/** One of the actor's tenant's users by id or username; another tenant's is 404, like a missing one. */
export async function tenantUserOf(sql: Sql | Tx, clientId: string, idOrUsername: string): Promise<TenantUser | undefined> {
  const [r] = await sql`
    select * from tenant_users
    where client_id = ${clientId} and (id = ${idOrUsername} or lower(username) = lower(${idOrUsername}))
    limit 1`;
  return r ? toUser(r) : undefined;
}

/**
 * An owner changes the role of one of their tenant's users: audited in the
 * same transaction, then announced, so that the user's tokens carry the new
 * role and their console sessions end (they sign in again) within a second.
 */
export async function changeUserRole(sql: Sql, redis: Redis, by: TenantActor, idOrUsername: string, role: string): Promise<TenantUser> {
  if (!(USER_ROLES as readonly string[]).includes(role))
    throw new AppError('validation_failed', `Invalid role "${role.slice(0, 32)}": a user is ${USER_ROLES.join(' or ')}`, {
      details: [{ field: 'role', message: `must be ${USER_ROLES.join(' or ')}` }],
    });
  const user = (await sql.begin(async (tx) => {
    const found = await target(tx as unknown as Tx, by, idOrUsername, 'change your own role');
    const [r] = await tx`update tenant_users set role = ${role} where id = ${found.id} and client_id = ${by.clientId} returning *`;
    await recordAudit(tx as unknown as Tx, {
      actor: by.actor,
      action: 'tenant_user.role',
      target: `tenant_user:${found.id}`,
      details: { username: found.username, from: found.role, to: role, client_id: by.clientId, via: 'self-service' },
      ip: by.ip,
    });
    return toUser(r!);
  })) as TenantUser;
  await publishUserInvalidation(redis, { userId: user.id }).catch(() => {}); // otherwise the change shows within KEY_CACHE_TTL_MS
  return user;
}

/** An owner deactivates one of their tenant's users: audited, announced; their tokens and sessions stop within a second. */
export async function deactivateTenantUserOf(sql: Sql, redis: Redis, by: TenantActor, idOrUsername: string): Promise<TenantUser> {
  const found = await target(sql, by, idOrUsername, 'deactivate yourself');
  const { user } = await deactivateUserEverywhere(sql, redis, found.id, (tx, u) =>
    recordAudit(tx, {
      actor: by.actor,
      action: 'tenant_user.deactivate',
      target: `tenant_user:${u.id}`,
      details: { username: u.username, client_id: u.clientId, via: 'self-service' },
      ip: by.ip,
    }),
  );
  if (!user) throw notFound(idOrUsername);
  return user;
}

async function target(sql: Sql | Tx, by: TenantActor, idOrUsername: string, what: string): Promise<TenantUser> {
  const found = await tenantUserOf(sql, by.clientId, idOrUsername);
  if (!found) throw notFound(idOrUsername);
  if (found.id === by.userId) throw new AppError('conflict', `You cannot ${what}; ask another owner`);
  return found;
}

const notFound = (idOrUsername: string) => new AppError('not_found', `No user "${idOrUsername.slice(0, 64)}"`);
