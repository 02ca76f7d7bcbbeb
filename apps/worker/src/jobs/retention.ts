import {
  deleteExpiredRows,
  dropExpiredPartitions,
  ensurePartitions,
  isLockTimeout,
  PARTITION_LOCK_TIMEOUT_MS,
  pruneRecords,
  type Sql,
} from '@central-logger/db';
import type { Logger } from '@central-logger/http';

export interface MaintenanceResult {
  partitionsCreated: number;
  partitionsDropped: string[];
  /**
   * Partition steps left for the next run because workflow_logs stayed locked
   * (by a long read) past the lock timeout: 'partitions ahead', or the name of
   * an expired partition. Writers never wait behind maintenance for longer.
   */
  busy: string[];
  rowsDeleted: number;
  /** Bookkeeping rows pruned, per table. */
  pruned: Record<string, number>;
}

/**
 * The maintenance job: partitions for the coming days, then retention (whole
 * expired day partitions dropped, shorter per-client retention deleted in
 * bounded batches), then the service's own bookkeeping past its keep time.
 * Every step is idempotent, so a rerun after a crash is safe.
 */
export function maintenance(
  sql: Sql,
  log: Logger,
  options: { deleteBatch: number; securityRecordsDays: number; usageDays: number; now?: () => Date; lockTimeoutMs?: number },
) {
  const lockTimeoutMs = options.lockTimeoutMs ?? PARTITION_LOCK_TIMEOUT_MS;
  return async function runMaintenance(): Promise<MaintenanceResult> {
    const now = options.now?.() ?? new Date();
    const busy: string[] = [];
    const partitionsCreated = await ensurePartitions(sql, now, lockTimeoutMs).catch((err: unknown) => {
      if (!isLockTimeout(err)) throw err;
      busy.push('partitions ahead');
      return 0;
    });
    const { dropped, busy: busyPartitions } = await dropExpiredPartitions(sql, now, lockTimeoutMs);
    busy.push(...busyPartitions);
    const rowsDeleted = await deleteExpiredRows(sql, now, options.deleteBatch);
    const pruned = await pruneRecords(sql, now, { securityRecordsDays: options.securityRecordsDays, usageDays: options.usageDays, batch: options.deleteBatch });
    const result = { partitionsCreated, partitionsDropped: dropped, busy, rowsDeleted, pruned };
    if (busy.length > 0) log.warn({ busy, lock_timeout_ms: lockTimeoutMs }, 'workflow_logs stayed locked: partition steps left for the next maintenance run');
    log.info(result, 'maintenance done');
    return result;
  };
}
