import { deleteExpiredRows, dropExpiredPartitions, ensurePartitions, pruneRecords, type Sql } from '@central-logger/db';
import type { Logger } from '@central-logger/http';

export interface MaintenanceResult {
  partitionsCreated: number;
  partitionsDropped: string[];
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
export function maintenance(sql: Sql, log: Logger, options: { deleteBatch: number; securityRecordsDays: number; usageDays: number; now?: () => Date }) {
  return async function runMaintenance(): Promise<MaintenanceResult> {
    const now = options.now?.() ?? new Date();
    const partitionsCreated = await ensurePartitions(sql, now);
    const partitionsDropped = await dropExpiredPartitions(sql, now);
    const rowsDeleted = await deleteExpiredRows(sql, now, options.deleteBatch);
    const pruned = await pruneRecords(sql, now, { securityRecordsDays: options.securityRecordsDays, usageDays: options.usageDays, batch: options.deleteBatch });
    const result = { partitionsCreated, partitionsDropped, rowsDeleted, pruned };
    log.info(result, 'maintenance done');
    return result;
  };
}
