import { UnrecoverableError, type Job } from 'bullmq';
import type { LogRow } from '@central-logger/db';
import { persistLogsJob } from '@central-logger/queue';
import type { LogBatcher } from '../batcher.js';

/**
 * Stores a job's events through the shared batcher. The job completes only
 * after their INSERT commits; a redelivered job inserts nothing new because
 * the insert skips (client_id, event_id, executed_at) it already holds.
 */
export function persistLogs(batcher: LogBatcher) {
  return async function process(job: Job): Promise<{ stored: number }> {
    const parsed = persistLogsJob.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid persist-logs payload: ${parsed.error.issues[0]?.message ?? 'unknown'}`);
    }
    const { client_id, received_at, events } = parsed.data;
    const rows: LogRow[] = events.map((e) => ({ ...e, client_id, received_at }));
    await batcher.add(rows);
    return { stored: rows.length };
  };
}
