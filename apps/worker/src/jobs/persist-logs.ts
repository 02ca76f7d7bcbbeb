import { UnrecoverableError, type Job } from 'bullmq';
import type { LogRow } from '@central-logger/db';
import { groupsOf, persistLogsJob, type EventGroup } from '@central-logger/queue';
import type { LogBatcher } from '../batcher.js';

/**
 * Stores a job's events through the shared batcher. The job completes only
 * after their INSERT commits; a redelivered job inserts nothing new because
 * the insert skips (client_id, event_id, executed_at) it already holds.
 * A job gathered by group commit holds groups of several tenants: each group
 * becomes rows of its own client_id only, and is handed to the batcher on its
 * own, so a group Postgres rejects fails the job without failing the others.
 */
export function persistLogs(batcher: LogBatcher, onStored?: (group: EventGroup) => void) {
  return async function process(job: Job): Promise<{ stored: number }> {
    const parsed = persistLogsJob.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid persist-logs payload: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    }
    const groups = groupsOf(parsed.data);
    const settled = await Promise.allSettled(groups.map((g) => batcher.add(rowsOf(g)).then(() => onStored?.(g))));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    return { stored: groups.reduce((n, g) => n + g.events.length, 0) };
  };
}

/** The group's events as rows of its tenant; in place, because the parsed job is ours alone and copies of big jobs cost memory. */
function rowsOf({ client_id, received_at, events }: EventGroup): LogRow[] {
  const rows = events as LogRow[];
  for (const row of rows) {
    row.client_id = client_id;
    row.received_at = received_at;
  }
  return rows;
}
