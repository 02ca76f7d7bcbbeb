import type { Context } from 'koa';
import { z } from 'zod';
import { CLIENT_ID_PATTERN, createClient, getClient, isUniqueViolation, setRetentionDays } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { publishInvalidation, setClientActiveEverywhere } from '@central-logger/keys';
import { getLimitOverrides, setLimitOverrides } from '@central-logger/limits';
import { parseWith, readJson } from '../middleware/json-body.js';
import { audited, recordAudit } from '../store/audit.js';
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
        await recordAudit(tx, audited.clientCreated(ctx.state.admin.name, c, ctx.ip));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('conflict', `Client "${id}" already exists`);
      throw err;
    }
    ctx.status = 201;
    ctx.body = clientJson((await getClientOverview(deps.sql, id))!);
  };
}

/** These take no query parameters: one sent anyway is a 400 naming it, as on every admin list. */
const noQuery = z.strictObject({});

/** `GET /admin/api/clients`: with last heartbeat, key counts and recent event counts. */
export function listClientsRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    parseWith(noQuery, ctx.query);
    ctx.body = { data: (await listClientOverviews(deps.sql)).map(clientJson) };
  };
}

/** `GET /admin/api/clients/:id` */
export function getClientRoute(deps: RouteDeps) {
  return async function get(ctx: Context): Promise<void> {
    parseWith(noQuery, ctx.query);
    const c = await getClientOverview(deps.sql, String(ctx.params.id));
    if (!c) throw notFound(String(ctx.params.id));
    ctx.body = clientJson(c);
  };
}

/**
 * `POST /admin/api/clients/:id/deactivate` and `…/activate`: the client's keys
 * stop (or start again) working on every process within a second. The audit
 * row commits with the change.
 */
export function clientStatusRoute(deps: RouteDeps, to: 'active' | 'inactive') {
  const active = to === 'active';
  return async function setStatus(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const { result, announced } = await setClientActiveEverywhere(deps.sql, deps.redis, id, active, (tx) =>
      recordAudit(tx, audited.clientStatus(ctx.state.admin.name, id, active, ctx.ip)),
    );
    if (!result) throw notFound(id);
    ctx.body = { ...clientJson((await getClientOverview(deps.sql, id))!), announced };
  };
}

function notFound(id: string): AppError {
  return new AppError('not_found', `No client "${id}"`);
}

const rate = z.number().positive().nullable().optional();
const count = z.number().int().positive().nullable().optional();
const updateBody = z
  .object({
    retention_days: z.number().int().min(1).max(3650).optional(),
    /** Per-client overrides of the ingest limits; null clears one (the default applies again). */
    limits: z
      .object({
        requests_per_second: rate,
        request_burst: count,
        events_per_second: rate,
        event_burst: count,
        tenant_events_per_second: rate,
        tenant_event_burst: count,
        events_per_day: count,
      })
      .strict()
      .optional(),
  })
  .strict();

/**
 * `PATCH /admin/api/clients/:id` `{retention_days?, limits?}`: as `central-logger
 * client retention` and `limits set`. Ingest re-reads limits within
 * LIMITS_CACHE_TTL_MS; the retention travels with cached keys, so they are
 * dropped everywhere after the commit.
 */
export function updateClientRoute(deps: RouteDeps) {
  return async function update(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const body = await readJson(ctx, updateBody);
    const found = await deps.sql.begin(async (tx) => {
      const sql = asSql(tx);
      if (!(await getClient(sql, id))) return false;
      if (body.retention_days !== undefined) await setRetentionDays(sql, id, body.retention_days);
      if (body.limits) {
        const l = body.limits;
        await setLimitOverrides(sql, id, {
          requestsPerSecond: l.requests_per_second,
          requestBurst: l.request_burst,
          eventsPerSecond: l.events_per_second,
          eventBurst: l.event_burst,
          tenantEventsPerSecond: l.tenant_events_per_second,
          tenantEventBurst: l.tenant_event_burst,
          eventsPerDay: l.events_per_day,
        });
      }
      await recordAudit(tx, audited.clientUpdated(ctx.state.admin.name, id, body, ctx.ip));
      return true;
    });
    if (!found) throw new AppError('not_found', `No client "${id}"`);
    const announced =
      body.retention_days === undefined ||
      (await publishInvalidation(deps.redis, { clientId: id }).then(
        () => true,
        () => false,
      ));
    const [row] = await deps.sql`select retention_days from clients where id = ${id}`;
    ctx.body = {
      ...clientJson((await getClientOverview(deps.sql, id))!),
      retention_days: row!.retention_days,
      limits: await getLimitOverrides(deps.sql, id),
      announced,
    };
  };
}
