import type { Context } from 'koa';
import { logHistogram, type ReadRouter } from '@central-logger/db';
import { parseHistogramQuery } from '@central-logger/events';
import { laggingRead } from '../replica-read.js';

/**
 * `GET /api/v1/logs/histogram`: the tenant's log counts per time bucket,
 * split by level, with the filters of `GET /api/v1/logs`; every bucket of
 * the range, empty ones with zero counts. From the standby when there is one.
 */
export function getLogHistogram(reads: ReadRouter) {
  return async function histogram(ctx: Context): Promise<void> {
    const query = parseHistogramQuery(ctx.query);
    const data = await laggingRead(ctx, reads, (sql) => logHistogram(sql, ctx.state.principal.clientId!, query.filter, query.intervalMs));
    ctx.body = {
      interval: query.interval,
      from: query.filter.from.toISOString(),
      to: query.filter.to.toISOString(),
      total: data.reduce((n, b) => n + b.count, 0),
      data,
    };
  };
}
