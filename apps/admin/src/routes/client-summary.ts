import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { limitsDefaults } from '@central-logger/limits';
import { parseWith } from '../middleware/json-body.js';
import { clientSummaryJson, getClientSummary } from '../store/client-summary.js';
import type { RouteDeps } from './deps.js';

const summaryQuery = z.strictObject({
  hours: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 31)
    .default(24),
});

/**
 * `GET /admin/api/clients/:id/summary?hours=24`: what the client page shows
 * beside the usage charts: retention, limits (defaults, overrides, in force),
 * today's quota, and the error rate and top workflows of its stored events by
 * event time (the newest SUMMARY_SAMPLE of the window).
 */
export function clientSummaryRoute(deps: RouteDeps) {
  return async function summary(ctx: Context): Promise<void> {
    const { hours } = parseWith(summaryQuery, ctx.query);
    const id = String(ctx.params.id);
    const s = await getClientSummary(deps.sql, deps.redis, deps.config.QUEUE_PREFIX, id, limitsDefaults(deps.config), hours);
    if (!s) throw new AppError('not_found', `No client "${id}"`);
    ctx.body = { client_id: id, ...clientSummaryJson(s) };
  };
}
