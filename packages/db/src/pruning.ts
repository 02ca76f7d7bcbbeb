import type { Sql } from './client.js';

const DAY_MS = 86_400_000;

export interface PruneOptions {
  /** Failed-auth and sign-in records, ended admin sessions and acknowledged alerts are kept this many days. */
  securityRecordsDays: number;
  /** Hourly usage and key address history are kept this many days. */
  usageDays: number;
  /** Most rows one DELETE removes, so no transaction grows long. */
  batch: number;
}

/**
 * Deletes what the service's own bookkeeping no longer needs, in bounded
 * batches. The admin audit log and dead letters are never pruned: the first is
 * the record of who did what, the second holds accepted events waiting for an
 * operator. Returns rows deleted per table.
 */
export async function pruneRecords(sql: Sql, now: Date, o: PruneOptions): Promise<Record<string, number>> {
  const security = new Date(now.getTime() - o.securityRecordsDays * DAY_MS);
  const usage = new Date(now.getTime() - o.usageDays * DAY_MS);
  // table → which of its rows have expired
  const expired: Array<[string, () => ReturnType<Sql>]> = [
    ['auth_failures', () => sql`occurred_at < ${security}`],
    ['admin_login_failures', () => sql`at < ${security}`],
    ['admin_sessions', () => sql`coalesce(revoked_at, expires_at) < ${security}`],
    ['alerts', () => sql`acknowledged_at < ${security}`],
    ['usage_hourly', () => sql`hour < ${usage}`],
    ['key_addresses', () => sql`last_seen < ${usage}`],
  ];
  const deleted: Record<string, number> = {};
  for (const [table, where] of expired) {
    deleted[table] = 0;
    for (;;) {
      const { count } = await sql`
        delete from ${sql(table)}
        where ctid = any(array(select ctid from ${sql(table)} where ${where()} limit ${o.batch}))`;
      deleted[table] += count;
      if (count < o.batch) break;
    }
  }
  return deleted;
}
