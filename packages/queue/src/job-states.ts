import type { Queue } from 'bullmq';

/** Where one job stands, in words an operator reads. */
export type JobProgress = 'queued' | 'running' | 'retrying' | 'done' | 'failed' | 'missing';

export interface JobStanding {
  progress: JobProgress;
  /** Attempts made so far. */
  attempts: number;
  /** Why the last attempt failed, if one did. */
  lastError: string | null;
  /** When the job finished (done, or failed for good). */
  finishedAt: Date | null;
}

const PROGRESS: Record<string, JobProgress> = {
  completed: 'done',
  failed: 'failed',
  active: 'running',
  waiting: 'queued',
  prioritized: 'queued',
  'waiting-children': 'queued',
};

/**
 * The standing of the jobs with these ids in `queue`: 'missing' when Redis no
 * longer holds one (finished jobs are trimmed past their queue's keep count).
 */
export async function jobStandings(queue: Queue, ids: readonly string[]): Promise<Map<string, JobStanding>> {
  const out = new Map<string, JobStanding>();
  await Promise.all(
    ids.map(async (id) => {
      const job = await queue.getJob(id);
      if (!job) return out.set(id, { progress: 'missing', attempts: 0, lastError: null, finishedAt: null });
      const state = await job.getState();
      // a delayed job is waiting out its backoff after a failed attempt (or was queued with a delay)
      const progress = state === 'delayed' ? (job.attemptsMade > 0 ? 'retrying' : 'queued') : (PROGRESS[state] ?? 'queued');
      out.set(id, { progress, attempts: job.attemptsMade, lastError: job.failedReason || null, finishedAt: job.finishedOn ? new Date(job.finishedOn) : null });
    }),
  );
  return out;
}
