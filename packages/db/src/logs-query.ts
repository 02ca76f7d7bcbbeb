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

/**
 * How far back each time slice of a page reaches from its anchor, newest
 * first; past the last, the rest of the range. A page is read slice by slice
 * until it is full: a tenant's newest 100 rows are usually in the last hour,
 * and a query bounded to it is planned and run on one or two day partitions
 * instead of all of them (35 with 30 days' retention: 2–4 ms of planning
 * alone, and a start-up of every partition's index scan).
 */
export const PAGE_SLICES_MS = [3_600_000, 86_400_000, 7 * 86_400_000] as const;

/**
 * The time slices `findLogs` reads a page in, newest first, together exactly
 * the filter's range: the first is open upwards (to `to`, or to rows dated in
 * the future), the last reaches down to `from` (or to the oldest row). They
 * are anchored at the page's upper end: the earliest of now, `to` and the
 * cursor's position.
 */
export function pageSlices(filter: LogFilter, after: LogPosition | undefined, now: number): LogFilter[] {
  const cursorAt = after ? Date.parse(after.executedAt) : Number.NaN;
  const anchor = Math.min(now, filter.to?.getTime() ?? Infinity, Number.isNaN(cursorAt) ? Infinity : cursorAt);
  const { from, to, ...rest } = filter;
  const slices: LogFilter[] = [];
  let upper = to;
  for (const back of PAGE_SLICES_MS) {
    const lower = new Date(anchor - back);
    if (from && lower <= from) break;
    slices.push({ ...rest, from: lower, ...(upper && { to: upper }) });
    upper = lower;
  }
  slices.push({ ...rest, ...(from && { from }), ...(upper && { to: upper }) });
  return slices;
}

/**
 * One page of a tenant's logs, newest first, after `after` when given. Read
 * in time slices (`pageSlices`), newest first, in one repeatable-read
 * transaction: the slices see one snapshot, so the page is the one a single
 * query would have returned. `now` anchors the slices (default: the clock).
 */
export async function findLogs(sql: Sql, clientId: string, filter: LogFilter, page: { limit: number; after?: LogPosition; now?: number }): Promise<LogPage> {
  const want = page.limit + 1;
  const slices = pageSlices(filter, page.after, page.now ?? Date.now());
  const rows = await withTenant(
    sql,
    clientId,
    async (tx) => {
      const found: LogView[] = [];
      for (const slice of slices) {
        const got = await logsQuery(tx, clientId, slice, { limit: want - found.length, after: page.after });
        found.push(...(got as unknown as LogView[]));
        if (found.length >= want) break;
      }
      return found;
    },
    { snapshot: true },
  );
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
  // date_bin is arithmetic on the timestamp: cheaper per row than a conversion to UTC and a truncation
  hour: (tx: Tx) => tx`date_bin('1 hour', l.executed_at, timestamptz '1970-01-01 00:00:00+00')`,
  day: (tx: Tx) => tx`date_bin('1 day', l.executed_at, timestamptz '1970-01-01 00:00:00+00')`,
} satisfies Record<StatsGroup, unknown>;

const byTime = (groupBy: StatsGroup) => groupBy === 'hour' || groupBy === 'day';

/**
 * Counts by group in [from, to); other groups largest first, at most 1,000;
 * time buckets unordered (at most 1,000: the range is checked), `logStats`
 * sorts them. An ORDER BY on the bucket made the planner, which expects about
 * as many buckets as rows, sort every row before counting (GroupAggregate):
 * 100,000 rows sorted for 31 days. Unordered, it counts in a hash table.
 */
export function statsQuery(tx: Tx, clientId: string, range: { from: Date; to: Date }, groupBy: StatsGroup) {
  // buckets are formatted after grouping: once per bucket, not once per row
  const grouped = tx`
    select ${groupKeys[groupBy](tx)} as key, count(*)::float8 as count
    from workflow_logs l
    where ${conditions(tx, clientId, range)}
    group by 1`;
  return byTime(groupBy)
    ? tx`select to_char(g.key at time zone 'UTC', ${ISO}) as key, g.count from (${grouped}) g`
    : tx`select g.key, g.count from (${grouped}) g order by g.count desc, g.key limit ${MAX_STATS_GROUPS}`;
}

/** Counts by group in [from, to); time buckets oldest first, other groups largest first, at most 1,000. */
export async function logStats(sql: Sql, clientId: string, range: { from: Date; to: Date }, groupBy: StatsGroup): Promise<StatsBucket[]> {
  const rows = await withTenant(sql, clientId, (tx) => statsQuery(tx, clientId, range, groupBy));
  const buckets = rows.map((r) => ({ key: (r.key as string | null) ?? null, count: r.count as number }));
  // ISO 8601 keys of four-digit years sort as text in time order
  if (byTime(groupBy)) buckets.sort((a, b) => (a.key! < b.key! ? -1 : 1));
  return buckets;
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
