import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUES } from './jobs.js';

/** The logs queue on `connection`, to read or retry its jobs (LogsProducer adds them). */
export function openLogsQueue(connection: Redis, prefix: string): Queue {
  return new Queue(QUEUES.logs, { connection, prefix });
}

/** A persist-logs job that gave up: its events were accepted (202) but are not stored. */
export interface FailedJob {
  id: string;
  failedAt: Date | undefined;
  attempts: number;
  reason: string;
  events: number;
  clients: string[];
}

export interface FailedJobs {
  /** All failed jobs in the queue. */
  count: number;
  /** The newest `limit` of them. */
  jobs: FailedJob[];
}

/**
 * The logs queue's failed jobs: those that used up their attempts (Postgres
 * away longer than the retry schedule, say). Failed jobs are kept, never
 * trimmed: each holds accepted events until an operator retries it.
 */
export async function listFailedJobs(queue: Queue, limit = 50): Promise<FailedJobs> {
  const [count, jobs] = await Promise.all([queue.getFailedCount(), queue.getFailed(0, limit - 1)]);
  return {
    count,
    jobs: jobs.filter(Boolean).map((job) => {
      const groups = ((job.data as { groups?: Array<{ client_id?: unknown; events?: unknown[] }> } | null)?.groups ?? []);
      return {
        id: String(job.id),
        failedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
        attempts: job.attemptsMade,
        reason: job.failedReason ?? '',
        events: groups.reduce((n, g) => n + (Array.isArray(g.events) ? g.events.length : 0), 0),
        clients: [...new Set(groups.map((g) => String(g.client_id)))],
      };
    }),
  };
}

/**
 * Puts every failed job back in the queue, with fresh attempts; the worker
 * stores their events once (inserts are idempotent). Returns how many were
 * failed when it started.
 */
export async function retryFailedJobs(queue: Queue): Promise<number> {
  const count = await queue.getFailedCount();
  if (count > 0) await queue.retryJobs({ state: 'failed', count: 1000 });
  return count;
}
