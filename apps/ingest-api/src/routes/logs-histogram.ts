import type { Context } from 'koa';
import { logHistogram, type Sql } from '@central-logger/db';
import { parseHistogramQuery } from '@central-logger/events';

/**
 * `GET /api/v1/logs/histogram`: the tenant's log counts per time bucket,
 * split by level, with the filters of `GET /api/v1/logs`; every bucket of
 * the range, empty ones with zero counts.
 */
export function getLogHistogram(readSql: Sql) {
  return async function histogram(ctx: Context): Promise<void> {
    const query = parseHistogramQuery(ctx.query);
    const data = await logHistogram(readSql, ctx.state.principal.clientId!, query.filter, query.intervalMs);
    ctx.body = {
      interval: query.interval,
      from: query.filter.from.toISOString(),
      to: query.filter.to.toISOString(),
      total: data.reduce((n, b) => n + b.count, 0),
      data,
    };
  };
}
