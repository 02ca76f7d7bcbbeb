import { Queue, type Job } from 'bullmq';
import type { RedisClient } from '@central-logger/redis';
import { laneOf, laneQueueName, QUEUE_LANES, QUEUES, shardPrefixes, type QueueLane } from './jobs.js';

/** The logs queue on `connection`, to read or retry its jobs (LogsProducer adds them). */
export function openLogsQueue(connection: RedisClient, prefix: string): Queue {
  return new Queue(QUEUES.logs, { connection, prefix });
}

/**
 * Both lanes' logs queues on `connection`, of each of `shards` queue shards
 * (shard 0's fast lane first, then its bulk lane, then shard 1's…), to read or retry their jobs.
 */
export function openLogsQueues(connection: RedisClient, prefix: string, logsQueue: string = QUEUES.logs, shards = 1): Queue[] {
  return shardPrefixes(prefix, shards).flatMap((p, shard) =>
    QUEUE_LANES.map((lane) => {
      const queue = new Queue(laneQueueName(lane, logsQueue), { connection, prefix: p });
      shardOfQueue.set(queue, shard);
      return queue;
    }),
  );
}

/** The queue shard of each queue openLogsQueues opened (a prefix alone does not say: `app-2` may be a base prefix). */
const shardOfQueue = new WeakMap<Queue, number>();

/** A persist-logs job that gave up: its events were accepted (202) but are not stored. */
export interface FailedJob {
  /** The job's id, unique across the queues: each queue numbers its own jobs, so a bulk-lane job's is prefixed `bulk:` and one of queue shard n > 0 `s<n>:` (`s1:bulk:7`). */
  id: string;
  lane: QueueLane;
  /** The queue shard (QUEUE_SHARDS) the job is in; 0 without shards. */
  shard: number;
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
 * The logs queues' failed jobs (both lanes): those that used up their attempts
 * (Postgres away longer than the retry schedule, say), newest first. Failed
 * jobs are kept, never trimmed: each holds accepted events until an operator
 * retries it.
 */
export async function listFailedJobs(queues: Queue | readonly Queue[], limit = 50): Promise<FailedJobs> {
  const list = asList(queues);
  const each = await Promise.all(list.map((q) => Promise.all([q.getFailedCount(), q.getFailed(0, limit - 1)])));
  const jobs = each.flatMap(([, js], i) => js.filter(Boolean).map((job) => failedJob(job, shardOfQueue.get(list[i]!) ?? 0)));
  jobs.sort((a, b) => (b.failedAt?.getTime() ?? 0) - (a.failedAt?.getTime() ?? 0));
  return { count: each.reduce((n, [c]) => n + c, 0), jobs: jobs.slice(0, limit) };
}

function failedJob(job: Job, shard: number): FailedJob {
  const groups = (job.data as { groups?: Array<{ client_id?: unknown; events?: unknown[] }> } | null)?.groups ?? [];
  const id = job.queueName.endsWith('-bulk') ? `bulk:${job.id}` : String(job.id);
  return {
    id: shard > 0 ? `s${shard}:${id}` : id,
    lane: laneOf(job),
    shard,
    failedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
    attempts: job.attemptsMade,
    reason: job.failedReason ?? '',
    events: groups.reduce((n, g) => n + (Array.isArray(g.events) ? g.events.length : 0), 0),
    clients: [...new Set(groups.map((g) => String(g.client_id)))],
  };
}

/**
 * Puts every failed job of the logs queues back in its queue, with fresh
 * attempts; the worker stores their events once (inserts are idempotent).
 * Returns how many were failed when it started.
 */
export async function retryFailedJobs(queues: Queue | readonly Queue[]): Promise<number> {
  let total = 0;
  for (const queue of asList(queues)) {
    const count = await queue.getFailedCount();
    if (count > 0) await queue.retryJobs({ state: 'failed', count: 1000 });
    total += count;
  }
  return total;
}

const asList = (queues: Queue | readonly Queue[]): readonly Queue[] => (Array.isArray(queues) ? queues : [queues as Queue]);
