import type { Context } from 'koa';
import { z } from 'zod';
import { acknowledgeAlert, alertJson, countOpenAlerts, listAlerts, RULES, SEVERITIES } from '@central-logger/alerts';
import { AppError } from '@central-logger/errors';
import { parseWith, readJson } from '../middleware/json-body.js';
import { recordAudit } from '../store/audit.js';
import { asSql } from '../store/db.js';
import { webhookDeliveries } from '../store/webhook-delivery.js';
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
    severity: z.enum(SEVERITIES).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: cursor.optional(),
  })
  .strict();

/**
 * `GET /admin/api/alerts?status=open|acknowledged|all&rule&severity&limit&cursor`:
 * newest first, each with its evidence and the state of its webhook delivery.
 */
export function listAlertsRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const q = parseWith(alertsQuery, ctx.query);
    const rows = await listAlerts(deps.sql, {
      status: q.status,
      limit: q.limit + 1,
      ...(q.rule ? { rule: q.rule } : {}),
      ...(q.severity ? { severity: q.severity } : {}),
      ...(q.cursor ? { beforeId: q.cursor } : {}),
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const webhooks = await webhookDeliveries(deps.redis, deps.config.QUEUE_PREFIX, page);
    ctx.body = {
      data: page.map((a) => ({ ...alertJson(a), webhook: webhooks.get(a.id) })),
      next_cursor: rows.length > q.limit && last ? Buffer.from(last.id).toString('base64url') : null,
    };
  };
}

/** `GET /admin/api/alerts/summary`: how many alerts are open, by severity (the dashboard's navigation shows it). */
export function alertsSummaryRoute(deps: RouteDeps) {
  return async function summary(ctx: Context): Promise<void> {
    parseWith(z.strictObject({}), ctx.query);
    const { open, bySeverity } = await countOpenAlerts(deps.sql);
    ctx.body = { open, open_by_severity: bySeverity };
  };
}

const ackBody = z.strictObject({ note: z.string().trim().max(1000).optional() });

/**
 * `POST /admin/api/alerts/:id/ack` `{note?}`: acknowledged by the acting admin,
 * with the note, audited; acknowledging twice changes nothing (the first note stays).
 */
export function ackAlertRoute(deps: RouteDeps) {
  return async function ack(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const note = (await readJson(ctx, ackBody)).note || null;
    const done = await deps.sql.begin(async (tx) => {
      const r = await acknowledgeAlert(asSql(tx), id, ctx.state.admin.name, note);
      if (r?.changed)
        await recordAudit(tx, {
          actor: ctx.state.admin.name,
          action: 'alert.ack',
          target: `alert:${id}`,
          details: { rule: r.alert.rule, subject: r.alert.subject, ...(note ? { note } : {}) },
          ip: ctx.ip,
        });
      return r;
    });
    if (!done) throw new AppError('not_found', `No alert "${id}"`);
    ctx.body = alertJson(done.alert);
  };
}
