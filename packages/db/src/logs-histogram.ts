import { LEVELS, type Level, type LogFilter } from '@central-logger/events';
import type { Sql } from './client.js';
import { logConditions } from './logs-query.js';
import { withTenant, type Tx } from './tenant.js';

/** Counts of one bucket by level; `none` counts events sent without a level. */
export type LevelCounts = Record<Level | 'none', number>;

export interface HistogramBucket {
  /** The bucket's start, ISO 8601 UTC; buckets are aligned to the interval from the Unix epoch. */
  start: string;
  count: number;
  levels: LevelCounts;
}

/**
 * Counts per `intervalMs` bucket and level of the tenant's logs matching
 * `filter` in [from, to); only buckets holding rows. Returned unexecuted so
 * the benchmark can EXPLAIN exactly what the API runs.
 */
export function histogramQuery(tx: Tx, clientId: string, filter: LogFilter & { from: Date; to: Date }, intervalMs: number) {
  const bucket = tx`date_bin(make_interval(secs => ${intervalMs / 1000}), l.executed_at, timestamptz '1970-01-01 00:00:00+00')`;
  const byLevel = LEVELS.map((lv) => tx`count(*) filter (where l.level = ${lv})::float8 as ${tx(lv)}`).reduce((all, c) => tx`${all}, ${c}`);
  // one scan, one group per bucket: the level split is a filtered count, not a second grouping;
  // grouped by the timestamp, converted to epoch milliseconds (numeric arithmetic) once per bucket
  return tx`
    select extract(epoch from b.bucket)::float8 * 1000 as start, b.count, ${tx(LEVELS.map((lv) => `b.${lv}`))}, b."none"
    from (
      select ${bucket} as bucket, count(*)::float8 as count,
        ${byLevel},
        count(*) filter (where l.level is null)::float8 as "none"
      from workflow_logs l
      where ${logConditions(tx, clientId, filter)}
      group by 1
    ) b`;
}

/**
 * The tenant's histogram: every bucket from the one holding `from` to the one
 * holding the last instant before `to`, oldest first, empty ones included
 * with zero counts (a chart needs them).
 */
export async function logHistogram(sql: Sql, clientId: string, filter: LogFilter & { from: Date; to: Date }, intervalMs: number): Promise<HistogramBucket[]> {
  const rows = await withTenant(sql, clientId, (tx) => histogramQuery(tx, clientId, filter, intervalMs));
  const found = new Map(rows.map((r) => [r.start as number, r]));
  const out: HistogramBucket[] = [];
  const last = Math.floor((filter.to.getTime() - 1) / intervalMs) * intervalMs;
  for (let t = Math.floor(filter.from.getTime() / intervalMs) * intervalMs; t <= last; t += intervalMs) {
    const r = found.get(t);
    const levels = Object.fromEntries([...LEVELS, 'none'].map((lv) => [lv, r ? (r[lv] as number) : 0])) as LevelCounts;
    out.push({ start: new Date(t).toISOString(), count: r ? (r.count as number) : 0, levels });
  }
  return out;
}
