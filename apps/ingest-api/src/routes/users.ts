import type { Context } from 'koa';
import type { RedisClient as Redis } from '@central-logger/redis';
import { z } from 'zod';
import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { readJsonBody } from '@central-logger/http';
import { changeUserRole, deactivateTenantUserOf, isUserPrincipal, listTenantUsers, userJson, type TenantActor } from '@central-logger/tenant-auth';

const roleBody = z.strictObject({ role: z.string().min(1).max(32) });

/** The owner acting (a user, or an owner key by its prefix), for the audit log and the no-self-harm rule. */
function actor(ctx: Context): TenantActor {
  const p = ctx.state.principal;
  return { clientId: p.clientId!, userId: isUserPrincipal(p) ? p.userId : undefined, actor: p.prefix, ip: ctx.ip };
}

/** `GET /api/v1/users` (owner): the tenant's users, oldest first, never a password hash. */
export function listUsersRoute(sql: Sql) {
  return async function listUsers(ctx: Context): Promise<void> {
    ctx.body = { data: (await listTenantUsers(sql, ctx.state.principal.clientId!)).map(userJson) };
  };
}

/** `PATCH /api/v1/users/:id` `{"role": "owner" | "reader"}` (owner): another tenant's user is 404; audited; the user signs in again. */
export function changeUserRoleRoute(sql: Sql, redis: Redis) {
  return async function patchUser(ctx: Context): Promise<void> {
    const parsed = roleBody.safeParse(await readJsonBody(ctx.req, 1024));
    if (!parsed.success) throw new AppError('validation_failed', 'The body must be {"role": "owner" | "reader"}');
    ctx.body = userJson(await changeUserRole(sql, redis, actor(ctx), String(ctx.params.id), parsed.data.role));
  };
}

/** `DELETE /api/v1/users/:id` (owner): deactivates the user; their tokens and sessions stop within a second; audited. */
export function deactivateUserRoute(sql: Sql, redis: Redis) {
  return async function deleteUser(ctx: Context): Promise<void> {
    const user = await deactivateTenantUserOf(sql, redis, actor(ctx), String(ctx.params.id));
    ctx.state.log.info({ client_id: user.clientId, user_id: user.id, by: ctx.state.principal.prefix }, 'tenant user deactivated');
    ctx.body = userJson(user);
  };
}
