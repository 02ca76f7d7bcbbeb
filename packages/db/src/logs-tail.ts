import type { LogFilter } from '@central-logger/events';
import type { Sql } from './client.js';
import { logConditions, type LogView } from './logs-query.js';
import { withTenant, type Tx } from './tenant.js';

/**
 * A place in a tenant's stored logs in commit order (migration 120). Every
 * row stored by a transaction that the snapshot `seen` saw is behind it.
 * Inside a delta (`upTo` set), the rows new since `seen` and seen by `upTo`
 * are read in (stored_tx, received_at, executed_at, event_id) order, and
 * those up to `after` are behind it too.
 *
 * Why snapshots: two workers' INSERTs commit in any order, so no number
 * handed out at insert time is an order a reader can trust (row 11 may be
 * visible while row 10 is not yet, and a reader that moved past 11 would
 * never send 10). A snapshot says exactly which transactions a reader saw;
 * the next read sends the rows of every transaction the last one did not,
 * whenever it committed. So: no gap, no repeat, whatever the commit order.
 */
export interface TailPosition {
  /** pg_snapshot text (`xmin:xmax:xip,...`). */
  seen: string;
  upTo?: string;
  after?: TailKey;
}

/** A row's place within a delta. */
export interface TailKey {
  /** stored_tx as text. */
  tx: string;
  receivedAt: string;
  executedAt: string;
  eventId: string;
}

export interface TailEntry {
  log: LogView;
  /** The position right after this row: what a client resumes from. */
  position: TailPosition;
}

export interface TailPage {
  entries: TailEntry[];
  /** Where the next read starts. */
  next: TailPosition;
  /** More rows of the current delta are waiting (read again without waiting for news). */
  more: boolean;
}

const ISO = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"';

/**
 * The index condition for "stored by a transaction `seen` did not see": one
 * at or after its xmax, or one of those in flight when it was taken. Not
 * "at or after its xmin": a transaction left open anywhere in the cluster
 * holds xmin back, and every read would scan all the tenant's rows since.
 */
function unseenBy(tx: Tx, seen: string) {
  const [, xmax, xip] = seen.split(':') as [string, string, string];
  const inFlight = xip === '' ? [] : xip.split(',');
  return inFlight.length === 0 ? tx`l.stored_tx >= ${xmax}::xid8` : tx`(l.stored_tx >= ${xmax}::xid8 or l.stored_tx = any(${inFlight}::text[]::xid8[]))`;
}
export const SNAPSHOT = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/;

/** The tenant's current position: rows stored from now on are after it. */
export async function tailStart(sql: Sql, clientId: string): Promise<TailPosition> {
  const [row] = await withTenant(sql, clientId, (tx) => tx`select pg_current_snapshot()::text as s`);
  return { seen: row!.s as string };
}

/** How much one read may hold: rows, and bytes of message and metadata (the first row always). */
export interface TailReadLimit {
  rows: number;
  bytes: number;
}

/**
 * The tenant's next logs matching `filter` stored after `from`, in commit
 * order, at most `limit.rows` of them and about `limit.bytes` (counted by
 * Postgres, so a page of big events is cut before it is fetched), through
 * the read role (row-level security) like every tenant read: what a tail
 * sends is what GET /api/v1/logs/:id returns.
 */
export async function readTail(sql: Sql, clientId: string, filter: LogFilter, from: TailPosition, limit: TailReadLimit): Promise<TailPage> {
  return withTenant(sql, clientId, async (tx) => {
    const a = from.upTo ? from.after : undefined;
    // one statement: the snapshot it reads with is the upper bound of a new delta (no extra round trip);
    // the running size is summed over the page only (after its LIMIT), in the page's order
    const result = await tx`
      select s.snap::text as up_to, r.*
      from (select ${from.upTo ? tx`${from.upTo}::pg_snapshot` : tx`pg_current_snapshot()`} as snap) s
      left join lateral (
        select p.*, sum(p.bytes) over (order by p.tx, p.received, p.executed, p.event_id) as running
        from (
          select l.event_id, l.client_id,
            to_char(l.executed_at at time zone 'UTC', ${ISO}) as executed_at,
            to_char(l.received_at at time zone 'UTC', ${ISO}) as received_at,
            l.environment, l.workflow, l.run_id, l.status, l.level, l.message, l.duration_ms, l.metadata,
            l.stored_tx::text as stored_tx,
            l.stored_tx as tx, l.received_at as received, l.executed_at as executed,
            coalesce(octet_length(l.message), 0) + octet_length(l.metadata::text) as bytes
          from workflow_logs l
          where ${logConditions(tx, clientId, filter)}
            and ${unseenBy(tx, from.seen)}
            ${a ? tx`and l.stored_tx >= ${a.tx}::xid8` : tx``}
            and not pg_visible_in_snapshot(l.stored_tx, ${from.seen}::pg_snapshot)
            and pg_visible_in_snapshot(l.stored_tx, s.snap)
            ${a ? tx`and (l.stored_tx, l.received_at, l.executed_at, l.event_id) > (${a.tx}::xid8, ${a.receivedAt}::timestamptz, ${a.executedAt}::timestamptz, ${a.eventId})` : tx``}
          order by l.stored_tx, l.received_at, l.executed_at, l.event_id
          limit ${limit.rows + 1}
        ) p
      ) r on r.running - r.bytes < ${limit.bytes}`;
    const upTo = result[0]!.up_to as string;
    const rows = result.filter((r) => r.event_id !== null).map(({ up_to: _u, tx: _t, received: _r, executed: _e, bytes: _b, running: _s, ...r }) => r);
    // the last row reached the byte budget: the rows after it (if any) wait for the next read
    const cut = rows.length > 0 && Number(result.at(-1)!.running) >= limit.bytes;
    const more = rows.length > limit.rows || cut;
    const entries: TailEntry[] = [];
    for (const r of rows.slice(0, limit.rows)) {
      const { stored_tx: storedTx, ...log } = r as unknown as LogView & { stored_tx: string };
      entries.push({
        log,
        position: { seen: from.seen, upTo, after: { tx: storedTx, receivedAt: log.received_at, executedAt: log.executed_at, eventId: log.event_id } },
      });
    }
    // a finished delta: the last row's position (and the next read) is simply "everything upTo saw"
    const next = more ? entries.at(-1)!.position : { seen: upTo };
    if (!more && entries.length > 0) entries.at(-1)!.position = next;
    return { entries, next, more };
  });
}
