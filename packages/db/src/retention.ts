import type { Sql } from './client.js';
import { isLockTimeout } from './errors.js';

const DAY_MS = 86_400_000;
/** Retention when there is no client yet; matches the clients.retention_days default. */
export const DEFAULT_RETENTION_DAYS = 30;

/**
 * Longest the DDL of a partition waits for its lock on workflow_logs. Creating
 * or dropping a partition takes an ACCESS EXCLUSIVE lock on the table, and
 * while that request waits behind a long read (an export streaming, say),
 * every INSERT queues behind it: ingest would stall for as long as the read
 * lasts. Past this wait the step gives up (`isLockTimeout`) and is left for
 * the next run.
 */
export const PARTITION_LOCK_TIMEOUT_MS = 2_000;

/** Runs `fn` in a transaction whose lock waits give up after `ms` (lock_not_available). */
async function withLockTimeout<T>(sql: Sql, ms: number, fn: (tx: Sql) => Promise<T>): Promise<T> {
  return (await sql.begin(async (tx) => {
    await tx`select set_config('lock_timeout', ${`${ms}ms`}, true)`;
    return fn(tx as unknown as Sql);
  })) as T;
}

/**
 * Creates the day partitions of workflow_logs from the day before `now` to 3
 * days after (UTC). Throws `isLockTimeout` when the table stayed locked
 * longer than `lockTimeoutMs`.
 */
export async function ensurePartitions(sql: Sql, now = new Date(), lockTimeoutMs = PARTITION_LOCK_TIMEOUT_MS): Promise<number> {
  const day = now.toISOString().slice(0, 10);
  return withLockTimeout(sql, lockTimeoutMs, async (tx) => {
    const [row] = await tx`select ensure_workflow_logs_partitions(${day}::date - 1, ${day}::date + 3) as created`;
    return row!.created as number;
  });
}

export interface DroppedPartitions {
  dropped: string[];
  /** Expired partitions left for the next run: the table stayed locked past the lock timeout. */
  busy: string[];
}

/**
 * Drops the day partitions whose every row is older than the longest
 * retention of any client: a whole day goes at once, with no row-by-row
 * delete and no bloat. A partition whose lock is not had within
 * `lockTimeoutMs` is left for the next run.
 */
export async function dropExpiredPartitions(sql: Sql, now = new Date(), lockTimeoutMs = PARTITION_LOCK_TIMEOUT_MS): Promise<DroppedPartitions> {
  const [longest] = await sql`select coalesce(max(retention_days), ${DEFAULT_RETENTION_DAYS})::int as days from clients`;
  const cutoff = now.getTime() - (longest!.days as number) * DAY_MS;
  const parts = await sql`
    select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'workflow_logs'::regclass and c.relname ~ '^workflow_logs_p[0-9]{8}$'
    order by c.relname`;
  const result: DroppedPartitions = { dropped: [], busy: [] };
  for (const { relname } of parts) {
    const day = Date.parse(`${relname.slice(-8, -4)}-${relname.slice(-4, -2)}-${relname.slice(-2)}T00:00:00Z`);
    if (day + DAY_MS > cutoff) continue;
    try {
      // "if exists": another worker's run may have dropped it a moment ago
      // through the owner's function (migration 090): the worker may not drop tables itself,
      // and the function drops only what retention expired by the server's clock
      const [row] = await withLockTimeout(sql, lockTimeoutMs, (tx) => tx`select drop_expired_workflow_logs_partition(${relname as string}) as dropped`);
      if (row!.dropped) result.dropped.push(relname as string);
    } catch (err) {
      if (!isLockTimeout(err)) throw err;
      result.busy.push(relname as string);
    }
  }
  return result;
}

/**
 * Deletes, in statements of at most `batch` rows, the rows of each client
 * older than its own retention: what partition drops leave behind for clients
 * with a shorter retention than the longest, and old rows in the default
 * partition. Returns the rows deleted.
 */
export async function deleteExpiredRows(sql: Sql, now = new Date(), batch = 5_000): Promise<number> {
  const clients = await sql`select id, retention_days from clients order by id`;
  let deleted = 0;
  for (const c of clients) {
    const cutoff = new Date(now.getTime() - (c.retention_days as number) * DAY_MS);
    for (;;) {
      // the owner's function (migration 090): the worker cannot read or delete log rows itself
      const [row] = await sql`select delete_expired_workflow_logs(${c.id as string}, ${cutoff}, ${batch}) as n`;
      const count = row!.n as number;
      deleted += count;
      if (count < batch) break;
    }
  }
  return deleted;
}

/** Sets a client's retention; false when there is no such client. */
export async function setRetentionDays(sql: Sql, clientId: string, days: number): Promise<boolean> {
  const rows = await sql`update clients set retention_days = ${days} where id = ${clientId} returning id`;
  return rows.length > 0;
}
