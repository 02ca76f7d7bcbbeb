import type { Context } from 'koa';
import { z } from 'zod';
import { CLIENT_ID_PATTERN, createClient, isUniqueViolation } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { deactivateClientEverywhere } from '@central-logger/keys';
import { readJson } from '../middleware/json-body.js';
import { recordAudit } from '../store/audit.js';
import { asSql } from '../store/db.js';
import { getClientOverview, listClientOverviews } from '../store/client-overview.js';
import type { RouteDeps } from './deps.js';
import { clientJson } from './json.js';

const createBody = z.object({
  id: z.string().regex(CLIENT_ID_PATTERN, "use 1-63 letters, digits, '_', '-' or '.', starting with a letter or digit"),
  name: z.string().trim().min(1).max(200).optional(),
});

/** `POST /admin/api/clients` */
export function createClientRoute(deps: RouteDeps) {
  return async function create(ctx: Context): Promise<void> {
    const { id, name } = await readJson(ctx, createBody);
    try {
      await deps.sql.begin(async (tx) => {
        const c = await createClient(asSql(tx), id, name ?? id);
        await recordAudit(tx, { actor: ctx.state.admin.name, action: 'client.create', target: `client:${c.id}`, details: { name: c.name }, ip: ctx.ip });
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `Client "${id}" already exists`);
      throw err;
    }
    ctx.status = 201;
    ctx.body = clientJson((await getClientOverview(deps.sql, id))!);
  };
}

/** `GET /admin/api/clients`: with last heartbeat, key counts and recent event counts. */
export function listClientsRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    ctx.body = { data: (await listClientOverviews(deps.sql)).map(clientJson) };
  };
}

/** `GET /admin/api/clients/:id` */
export function getClientRoute(deps: RouteDeps) {
  return async function get(ctx: Context): Promise<void> {
    const c = await getClientOverview(deps.sql, String(ctx.params.id));
    if (!c) throw notFound(String(ctx.params.id));
    ctx.body = clientJson(c);
  };
}

/**
 * `POST /admin/api/clients/:id/deactivate`: its keys stop working on every
 * process within a second. The audit row follows the change rather than
 * sharing its transaction: deactivateClientEverywhere announces over Redis
 * as soon as its own write commits.
 */
export function deactivateClientRoute(deps: RouteDeps) {
  return async function deactivate(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const { result, announced } = await deactivateClientEverywhere(deps.sql, deps.redis, id);
    if (!result) throw notFound(id);
    await recordAudit(deps.sql, { actor: ctx.state.admin.name, action: 'client.deactivate', target: `client:${id}`, details: { announced }, ip: ctx.ip });
    ctx.body = { ...clientJson((await getClientOverview(deps.sql, id))!), announced };
  };
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No client "${id}"`);
}
