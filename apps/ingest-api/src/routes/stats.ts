import type { Context } from 'koa';
import { logStats, type ReadRouter } from '@central-logger/db';
import { parseStatsQuery } from '@central-logger/events';
import { laggingRead } from '../replica-read.js';

/** `GET /api/v1/stats?from&to&group_by=status|environment|workflow|hour|day`: the tenant's counts (from the standby when there is one). */
export function getStats(reads: ReadRouter) {
  return async function stats(ctx: Context): Promise<void> {
    const query = parseStatsQuery(ctx.query);
    const data = await laggingRead(ctx, reads, (sql) => logStats(sql, ctx.state.principal.clientId!, query, query.groupBy));
    ctx.body = {
      group_by: query.groupBy,
      from: query.from.toISOString(),
      to: query.to.toISOString(),
      total: data.reduce((n, b) => n + b.count, 0),
      data,
    };
  };
}
