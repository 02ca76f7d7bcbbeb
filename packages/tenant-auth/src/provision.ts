import type { RedisClient as Redis } from '@central-logger/redis';
import { getClient, isUniqueViolation, recordAudit, type Sql, type Tx } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { deactivateUserEverywhere } from './invalidation.js';
import { passwordProblem } from './passwords.js';
import { createTenantUser, getTenantUser, USER_ROLES, USERNAME_PATTERN, type TenantUser, type UserRole } from './users.js';

export interface NewUserRequest {
  clientId: string;
  username: string;
  role: string;
  password: string;
}

/**
 * The provider creates a tenant user (admin API and CLI alike): the client
 * must exist, the username be free in every tenant, the password long enough;
 * the audit row commits with the user. Problems are AppErrors (400, 404, 409).
 */
export async function provisionUser(sql: Sql, req: NewUserRequest, by: { actor: string; ip: string | null; bcryptCost: number }): Promise<TenantUser> {
  if (!USERNAME_PATTERN.test(req.username))
    throw new AppError(
      'validation_failed',
      `Invalid username "${req.username.slice(0, 64)}": use 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit`,
    );
  if (!(USER_ROLES as readonly string[]).includes(req.role))
    throw new AppError('validation_failed', `Invalid role "${req.role.slice(0, 32)}": a user is ${USER_ROLES.join(' or ')}`);
  const problem = passwordProblem(req.password);
  if (problem) throw new AppError('validation_failed', problem);
  const client = await getClient(sql, req.clientId);
  if (!client) throw new AppError('not_found', `No client "${req.clientId.slice(0, 64)}"`);
  try {
    return (await sql.begin(async (tx) => {
      const u = await createTenantUser(tx as unknown as Tx, {
        clientId: req.clientId,
        username: req.username,
        role: req.role as UserRole,
        password: req.password,
        bcryptCost: by.bcryptCost,
        createdBy: by.actor,
      });
      await recordAudit(tx as unknown as Tx, {
        actor: by.actor,
        action: 'tenant_user.create',
        target: `tenant_user:${u.id}`,
        details: { username: u.username, role: u.role, client_id: u.clientId },
        ip: by.ip,
      });
      return u;
    })) as TenantUser;
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `User "${req.username}" already exists`);
    throw err;
  }
}

/** Deactivates a user by id or username, audited in the same transaction, and announces it (their tokens stop within a second). 404 when none. */
export async function retireUser(
  sql: Sql,
  redis: Redis,
  idOrUsername: string,
  by: { actor: string; ip: string | null },
): Promise<{ user: TenantUser; announced: boolean }> {
  const found = await getTenantUser(sql, idOrUsername);
  if (!found) throw new AppError('not_found', `No user "${idOrUsername.slice(0, 64)}"`);
  const { user, announced } = await deactivateUserEverywhere(sql, redis, found.id, (tx, u) =>
    recordAudit(tx, {
      actor: by.actor,
      action: 'tenant_user.deactivate',
      target: `tenant_user:${u.id}`,
      details: { username: u.username, client_id: u.clientId },
      ip: by.ip,
    }),
  );
  if (!user) throw new AppError('not_found', `No user "${idOrUsername.slice(0, 64)}"`);
  return { user, announced };
}
