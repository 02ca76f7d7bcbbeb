import type { Context } from 'koa';
import { z } from 'zod';
import { acknowledgeAlert, alertJson, listAlerts, RULES } from '@central-logger/alerts';
import { AppError } from '@central-logger/errors';
import { parseWith } from '../middleware/json-body.js';
import { recordAudit } from '../store/audit.js';
import { asSql } from '../store/db.js';
import type { RouteDeps } from './deps.js';

const cursor = z
  .string()
  .max(200)
  .transform((c) => Buffer.from(c, 'base64url').toString('utf8'))
  .refine((id) => /^alr_[0-9a-f]{32}$/.test(id), 'not a cursor this API returned');

const alertsQuery = z
  .object({
    status: z.enum(['open', 'acknowledged', 'all']).default('all'),
    rule: z.enum(RULES).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: cursor.optional(),
  })
  .strict();

/** `GET /admin/api/alerts?status=open|acknowledged|all&rule&limit&cursor`: newest first, each with its evidence. */
export function listAlertsRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const q = parseWith(alertsQuery, ctx.query);
    const rows = await listAlerts(deps.sql, { status: q.status, limit: q.limit + 1, ...(q.rule ? { rule: q.rule } : {}), ...(q.cursor ? { beforeId: q.cursor } : {}) });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    ctx.body = {
      data: page.map(alertJson),
      next_cursor: rows.length > q.limit && last ? Buffer.from(last.id).toString('base64url') : null,
    };
  };
}

/** `POST /admin/api/alerts/:id/ack`: acknowledged by the acting admin, audited; acknowledging twice changes nothing. */
export function ackAlertRoute(deps: RouteDeps) {
  return async function ack(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const done = await deps.sql.begin(async (tx) => {
      const r = await acknowledgeAlert(asSql(tx), id, ctx.state.admin.name);
      if (r?.changed) await recordAudit(tx, { actor: ctx.state.admin.name, action: 'alert.ack', target: `alert:${id}`, details: { rule: r.alert.rule, subject: r.alert.subject }, ip: ctx.ip });
      return r;
    });
    if (!done) throw new AppError('not_found', `No alert "${id}"`);
    ctx.body = alertJson(done.alert);
  };
}
