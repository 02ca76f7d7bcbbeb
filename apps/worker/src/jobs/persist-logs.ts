import { UnrecoverableError, type Job } from 'bullmq';
import type { LogRow } from '@central-logger/db';
import { laneOf, parsePersistLogsJob, type EventGroup } from '@central-logger/queue';
import type { LogBatcher } from '../batcher.js';

/**
 * Stores a job's events through the shared batcher. The job completes only
 * after their INSERT commits; a redelivered job inserts nothing new because
 * the insert skips (client_id, event_id, executed_at) it already holds.
 * A job gathered by group commit holds groups of several tenants: each group
 * becomes rows of its own client_id only; rows Postgres refuses are kept in
 * dead_letter_events by the batcher (it bisects the job's rows to find them),
 * so only an outage fails the job (and BullMQ retries it). A bulk-lane job's
 * rows (its queue's, see laneOf) go into INSERTs after the fast lane's (fair persistence).
 */
export function persistLogs(batcher: LogBatcher, onStored?: (group: EventGroup) => void) {
  return async function process(job: Job): Promise<{ stored: number }> {
    const parsed = parsePersistLogsJob(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid persist-logs payload: ${parsed.message}`);
    const { groups } = parsed;
    // one batcher entry for the whole job: a job of single-event requests holds hundreds of groups
    const rows: LogRow[] = [];
    for (const g of groups) rows.push(...rowsOf(g));
    await batcher.add(rows, laneOf(job));
    if (onStored) for (const g of groups) onStored(g);
    return { stored: rows.length };
  };
}

/** The group's events as rows of its tenant; in place, because the job's data is this attempt's alone and copies of big jobs cost memory. */
function rowsOf({ client_id, received_at, events }: EventGroup): LogRow[] {
  const rows = events as LogRow[];
  for (const row of rows) {
    row.client_id = client_id;
    row.received_at = received_at;
  }
  return rows;
}
