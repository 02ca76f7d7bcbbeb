import { MAX_STATS_GROUPS, type LogFilter, type StatsGroup } from '@central-logger/events';
import type { Sql } from './client.js';
import type { LogPosition } from './logs-cursor.js';
import { withTenant, type Tx } from './tenant.js';

/** A stored log as tenants read it; times are ISO 8601 UTC with microseconds. */
export interface LogView {
  event_id: string;
  client_id: string;
  executed_at: string;
  received_at: string;
  environment: string;
  workflow: string | null;
  run_id: string | null;
  status: string;
  level: string | null;
  message: string | null;
  duration_ms: number | null;
  metadata: Record<string, unknown>;
}

export interface LogPage {
  data: LogView[];
  /** The position after the last row, when more rows may follow. */
  next: LogPosition | undefined;
}

export interface StatsBucket {
  /** The group's value; for hour/day the bucket's start (ISO 8601 UTC). */
  key: string | null;
  count: number;
}

const ISO = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/**
 * The SELECT behind every read of a tenant's logs, newest first. Returned
 * unexecuted so the benchmark can EXPLAIN exactly what the API runs.
 */
export function logsQuery(tx: Tx, clientId: string, filter: LogFilter, page: { limit?: number; after?: LogPosition } = {}) {
  return tx`
    select l.event_id, l.client_id,
      to_char(l.executed_at at time zone 'UTC', ${ISO}) as executed_at,
      to_char(l.received_at at time zone 'UTC', ${ISO}) as received_at,
      l.environment, l.workflow, l.run_id, l.status, l.level, l.message, l.duration_ms, l.metadata
    from workflow_logs l
    where ${conditions(tx, clientId, filter)}
      ${page.after ? tx`and (l.executed_at, l.event_id) < (${page.after.executedAt}::timestamptz, ${page.after.eventId})` : tx``}
    order by l.executed_at desc, l.event_id desc
    ${page.limit === undefined ? tx`` : tx`limit ${page.limit}`}`;
}

/** One page of a tenant's logs, newest first, after `after` when given. */
export async function findLogs(sql: Sql, clientId: string, filter: LogFilter, page: { limit: number; after?: LogPosition }): Promise<LogPage> {
  const rows = (await withTenant(sql, clientId, (tx) => logsQuery(tx, clientId, filter, { limit: page.limit + 1, after: page.after }))) as unknown as LogView[];
  const data = rows.slice(0, page.limit);
  const last = data.at(-1);
  const next = rows.length > page.limit && last ? { executedAt: last.executed_at, eventId: last.event_id } : undefined;
  return { data: [...data], next };
}

/** The tenant's log with this event_id (the newest, should it reuse one across times); undefined when none. */
export async function getLog(sql: Sql, clientId: string, eventId: string): Promise<LogView | undefined> {
  const rows = await withTenant(
    sql,
    clientId,
    (tx) => tx`
    select * from (${logsQuery(tx, clientId, {})}) l where l.event_id = ${eventId} limit 1`,
  );
  return rows[0] as LogView | undefined;
}

/**
 * Streams every matching log, newest first, through a server-side cursor in
 * batches of `batchSize`: memory stays flat whatever the range. A rejection
 * of `write` (the client went away) ends the cursor and the transaction.
 */
export async function streamLogs(sql: Sql, clientId: string, filter: LogFilter, write: (rows: LogView[]) => Promise<void>, batchSize = 500): Promise<number> {
  return withTenant(sql, clientId, async (tx) => {
    let n = 0;
    for await (const rows of logsQuery(tx, clientId, filter).cursor(batchSize)) {
      n += rows.length;
      await write(rows as unknown as LogView[]);
    }
    return n;
  });
}

const groupKeys = {
  status: (tx: Tx) => tx`l.status`,
  environment: (tx: Tx) => tx`l.environment`,
  workflow: (tx: Tx) => tx`l.workflow`,
  hour: (tx: Tx) => tx`date_trunc('hour', l.executed_at at time zone 'UTC')`,
  // a date is cheaper to compute and group than a date_trunc'd timestamp
  day: (tx: Tx) => tx`(l.executed_at at time zone 'UTC')::date`,
} satisfies Record<StatsGroup, unknown>;

/** Counts by group in [from, to); time buckets oldest first, other groups largest first, at most 1,000. */
export function statsQuery(tx: Tx, clientId: string, range: { from: Date; to: Date }, groupBy: StatsGroup) {
  const byTime = groupBy === 'hour' || groupBy === 'day';
  // buckets are formatted after grouping: once per bucket, not once per row
  return tx`
    select ${byTime ? tx`to_char(g.key::timestamp, ${ISO})` : tx`g.key`} as key, g.count
    from (
      select ${groupKeys[groupBy](tx)} as key, count(*)::float8 as count
      from workflow_logs l
      where ${conditions(tx, clientId, range)}
      group by 1
    ) g
    order by ${byTime ? tx`g.key` : tx`g.count desc, g.key`}
    limit ${MAX_STATS_GROUPS}`;
}

export async function logStats(sql: Sql, clientId: string, range: { from: Date; to: Date }, groupBy: StatsGroup): Promise<StatsBucket[]> {
  const rows = await withTenant(sql, clientId, (tx) => statsQuery(tx, clientId, range, groupBy));
  return rows.map((r) => ({ key: (r.key as string | null) ?? null, count: r.count as number }));
}

/** The WHERE clause: always the tenant, whatever RLS also enforces. */
function conditions(tx: Tx, clientId: string, f: LogFilter) {
  const parts = [tx`l.client_id = ${clientId}`];
  if (f.from) parts.push(tx`l.executed_at >= ${f.from}`);
  if (f.to) parts.push(tx`l.executed_at < ${f.to}`);
  if (f.status !== undefined) parts.push(tx`l.status = ${f.status}`);
  if (f.environment !== undefined) parts.push(tx`l.environment = ${f.environment}`);
  if (f.workflow !== undefined) parts.push(tx`l.workflow = ${f.workflow}`);
  if (f.runId !== undefined) parts.push(tx`l.run_id = ${f.runId}`);
  // the key is literal, not a parameter, so the planner matches the expression index of migration 100
  if (f.traceId !== undefined) parts.push(tx`(l.metadata ->> 'trace_id') = ${f.traceId}`);
  if (f.spanId !== undefined) parts.push(tx`(l.metadata ->> 'span_id') = ${f.spanId}`);
  if (f.level !== undefined) parts.push(tx`l.level = ${f.level}`);
  if (f.q !== undefined) parts.push(tx`l.message ilike ${`%${escapeLike(f.q)}%`}`);
  for (const [field, value] of Object.entries(f.metadata ?? {})) parts.push(tx`l.metadata ->> ${field} = ${value}`);
  return parts.reduce((all, p) => tx`${all} and ${p}`);
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, '\\$&');
}

/** The same WHERE clause for other reads of the logs (the histogram): one filter builder. */
export { conditions as logConditions };
