import type { Queue } from 'bullmq';
import { isCluster, type RedisClient } from '@central-logger/redis';
import type { QueueLane } from './jobs.js';

export interface BacklogOptions {
  /** Sample the queue at most this often. */
  sampleMs: number;
  /** Over this many waiting jobs, both lanes' queues together, the queue counts as overloaded. */
  maxJobs: number;
  /** Over this many jobs waiting in the bulk lane's queue the bulk lane is closed; default: no bound of its own. */
  maxBulkJobs?: number;
  /**
   * When Redis has a maxmemory, the queue also counts as overloaded once
   * Redis uses this share of it (0 < ratio ≤ 1): with noeviction a full Redis
   * refuses writes, so ingest stops accepting before it gets there.
   */
  maxMemoryRatio: number;
}

/** Why the queue takes no more events right now. */
export type Overload = 'backlog' | 'memory';

/**
 * A cheap view of the queue's backlog for backpressure: the number of waiting
 * jobs and Redis's memory use, read from Redis at most every `sampleMs` and in
 * the background, so the request path only reads numbers. A failed sample keeps
 * the last values (an unreachable Redis is caught by the connection status instead).
 */
export class BacklogMonitor {
  private jobs = 0;
  private bulkJobs = 0;
  private memory = { used: 0, max: 0 };
  private sampledAt = 0;
  private sampling = false;

  /** `queues`: both lanes' queues (of every shard); `redis`: their Redis, whose memory use is read (a cluster's fullest master). */
  constructor(
    private readonly queues: Record<QueueLane, Queue | readonly Queue[]>,
    private readonly redis: RedisClient,
    private readonly options: BacklogOptions,
  ) {}

  /** Waiting jobs of both lanes at the last sample; starts a new sample when the last is stale. */
  current(now = Date.now()): number {
    if (!this.sampling && now - this.sampledAt >= this.options.sampleMs) void this.sample(now);
    return this.jobs;
  }

  /** Waiting jobs per lane at the last sample (metrics). */
  byLane(now = Date.now()): Record<QueueLane, number> {
    this.current(now);
    return { fast: this.jobs - this.bulkJobs, bulk: this.bulkJobs };
  }

  /**
   * Whether the bulk lane holds more jobs than its bound at the last sample:
   * then requests of clients over their fair share are refused, while the
   * others are still taken (fair persistence).
   */
  bulkClosed(now = Date.now()): boolean {
    this.current(now);
    return this.options.maxBulkJobs !== undefined && this.bulkJobs > this.options.maxBulkJobs;
  }

  /** Why the queue is overloaded at the last sample, if it is. */
  overload(now = Date.now()): Overload | undefined {
    if (this.current(now) > this.options.maxJobs) return 'backlog';
    if (this.memory.max > 0 && this.memory.used >= this.options.maxMemoryRatio * this.memory.max) return 'memory';
    return undefined;
  }

  /** Reads the backlog and Redis's memory use now. */
  async sample(now = Date.now()): Promise<number> {
    this.sampling = true;
    this.sampledAt = now;
    try {
      const [fast, bulk, memory] = await Promise.all([waitingJobs(this.queues.fast), waitingJobs(this.queues.bulk), fullestMemory(this.redis)]);
      this.jobs = fast + bulk;
      this.bulkJobs = bulk;
      this.memory = memory;
    } catch {
      // keep the last values
    } finally {
      this.sampling = false;
    }
    return this.jobs;
  }
}

/** Jobs not yet taken by a worker, in all `queues`: waiting, prioritized (legacy bulk-lane jobs), delayed for a retry. */
async function waitingJobs(queues: Queue | readonly Queue[]): Promise<number> {
  const each = await Promise.all(
    (Array.isArray(queues) ? queues : [queues as Queue]).map(async (queue) => {
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
      return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
    }),
  );
  return each.reduce((a, b) => a + b, 0);
}

/** Memory use of Redis; on a cluster, of the master nearest its maxmemory (the first to refuse writes). */
async function fullestMemory(redis: RedisClient): Promise<{ used: number; max: number }> {
  const infos = await Promise.all((isCluster(redis) ? redis.nodes('master') : [redis]).map((node) => node.info('memory')));
  const each = infos.map((info) => ({ used: infoNumber(info, 'used_memory'), max: infoNumber(info, 'maxmemory') }));
  return each.reduce((a, b) => (ratio(b) > ratio(a) ? b : a));
}

const ratio = (m: { used: number; max: number }) => (m.max > 0 ? m.used / m.max : 0);

function infoNumber(info: string, field: string): number {
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}
