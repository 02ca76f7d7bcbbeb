import type { LogFilter } from '@central-logger/events';
import type { Sql } from './client.js';
import { logConditions, type LogView } from './logs-query.js';
import { withTenant } from './tenant.js';

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
export const SNAPSHOT = /^\d{1,20}:\d{1,20}:(\d{1,20}(,\d{1,20})*)?$/;

/** The tenant's current position: rows stored from now on are after it. */
export async function tailStart(sql: Sql, clientId: string): Promise<TailPosition> {
  const [row] = await withTenant(sql, clientId, (tx) => tx`select pg_current_snapshot()::text as s`);
  return { seen: row!.s as string };
}

/**
 * Up to `limit` of the tenant's logs matching `filter` stored after
 * `from`, in commit order, through the read role (row-level security) like
 * every tenant read: what a tail sends is what GET /api/v1/logs/:id returns.
 */
export async function readTail(sql: Sql, clientId: string, filter: LogFilter, from: TailPosition, limit: number): Promise<TailPage> {
  return withTenant(sql, clientId, async (tx) => {
    const a = from.upTo ? from.after : undefined;
    // one statement: the snapshot it reads with is the upper bound of a new delta (no extra round trip)
    const result = await tx`
      select s.snap::text as up_to, r.*
      from (select ${from.upTo ? tx`${from.upTo}::pg_snapshot` : tx`pg_current_snapshot()`} as snap) s
      left join lateral (
        select l.event_id, l.client_id,
          to_char(l.executed_at at time zone 'UTC', ${ISO}) as executed_at,
          to_char(l.received_at at time zone 'UTC', ${ISO}) as received_at,
          l.environment, l.workflow, l.run_id, l.status, l.level, l.message, l.duration_ms, l.metadata,
          l.stored_tx::text as stored_tx
        from workflow_logs l
        where ${logConditions(tx, clientId, filter)}
          and l.stored_tx >= ${a ? tx`greatest(pg_snapshot_xmin(${from.seen}::pg_snapshot), ${a.tx}::xid8)` : tx`pg_snapshot_xmin(${from.seen}::pg_snapshot)`}
          and not pg_visible_in_snapshot(l.stored_tx, ${from.seen}::pg_snapshot)
          and pg_visible_in_snapshot(l.stored_tx, s.snap)
          ${a ? tx`and (l.stored_tx, l.received_at, l.executed_at, l.event_id) > (${a.tx}::xid8, ${a.receivedAt}::timestamptz, ${a.executedAt}::timestamptz, ${a.eventId})` : tx``}
        order by l.stored_tx, l.received_at, l.executed_at, l.event_id
        limit ${limit + 1}
      ) r on true`;
    const upTo = result[0]!.up_to as string;
    const rows = result.filter((r) => r.event_id !== null).map(({ up_to: _, ...r }) => r);
    const more = rows.length > limit;
    const entries: TailEntry[] = [];
    for (const r of rows.slice(0, limit)) {
      const { stored_tx: storedTx, ...log } = r as unknown as LogView & { stored_tx: string };
      entries.push({ log, position: { seen: from.seen, upTo, after: { tx: storedTx, receivedAt: log.received_at, executedAt: log.executed_at, eventId: log.event_id } } });
    }
    // a finished delta: the last row's position (and the next read) is simply "everything upTo saw"
    const next = more ? entries.at(-1)!.position : { seen: upTo };
    if (!more && entries.length > 0) entries.at(-1)!.position = next;
    return { entries, next, more };
  });
}
