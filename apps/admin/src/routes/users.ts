import type { Context } from 'koa';
import { z } from 'zod';
import { listTenantUsers, MAX_PASSWORD_LENGTH, provisionUser, retireUser, userJson } from '@central-logger/tenant-auth';
import { parseWith, readJson } from '../middleware/json-body.js';
import type { RouteDeps } from './deps.js';

const createBody = z.strictObject({
  client_id: z.string().min(1).max(64),
  username: z.string().min(1).max(64),
  role: z.enum(['owner', 'reader']),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

// an empty client_id means every client, as before the query was checked
const listQuery = z.strictObject({ client_id: z.string().max(64).optional() });

/** `GET /admin/api/users[?client_id=]`: tenant users, never a password hash. */
export function listUsersRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const clientId = parseWith(listQuery, ctx.query).client_id || undefined;
    ctx.body = { data: (await listTenantUsers(deps.sql, clientId)).map(userJson) };
  };
}

/** `POST /admin/api/users` `{client_id, username, role, password}`: audited in the same transaction. */
export function createUserRoute(deps: RouteDeps) {
  return async function create(ctx: Context): Promise<void> {
    const body = await readJson(ctx, createBody);
    const user = await provisionUser(
      deps.sql,
      { clientId: body.client_id, username: body.username, role: body.role, password: body.password },
      { actor: ctx.state.admin.name, ip: ctx.ip, bcryptCost: deps.config.BCRYPT_COST },
    );
    ctx.status = 201;
    ctx.body = userJson(user);
  };
}

/** `POST /admin/api/users/:id/deactivate` (id or username): the user's tokens stop working on every ingest-api within a second. */
export function deactivateUserRoute(deps: RouteDeps) {
  return async function deactivate(ctx: Context): Promise<void> {
    const { user, announced } = await retireUser(deps.sql, deps.redis, String(ctx.params.id), { actor: ctx.state.admin.name, ip: ctx.ip });
    if (!announced) ctx.state.log.warn({ user_id: user.id }, 'user deactivated but Redis did not take the announcement: tokens stop within the cache TTL');
    ctx.body = { ...userJson(user), announced };
  };
}
