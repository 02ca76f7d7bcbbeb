import type { Queue } from 'bullmq';

export interface BacklogOptions {
  /** Sample the queue at most this often. */
  sampleMs: number;
  /** Over this many waiting jobs the queue counts as overloaded. */
  maxJobs: number;
}

/**
 * A cheap view of the queue's backlog for backpressure: the number of waiting
 * jobs, read from Redis at most every `sampleMs` and in the background, so the
 * request path only reads a number. A failed sample keeps the last value (an
 * unreachable Redis is caught by the connection status instead).
 */
export class BacklogMonitor {
  private jobs = 0;
  private sampledAt = 0;
  private sampling = false;

  constructor(private readonly queue: Queue, private readonly options: BacklogOptions) {}

  /** Waiting jobs at the last sample; starts a new sample when the last is stale. */
  current(now = Date.now()): number {
    if (!this.sampling && now - this.sampledAt >= this.options.sampleMs) void this.sample(now);
    return this.jobs;
  }

  overloaded(now = Date.now()): boolean {
    return this.current(now) > this.options.maxJobs;
  }

  /** Reads the backlog now. */
  async sample(now = Date.now()): Promise<number> {
    this.sampling = true;
    this.sampledAt = now;
    try {
      this.jobs = await this.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
    } catch {
      // keep the last value
    } finally {
      this.sampling = false;
    }
    return this.jobs;
  }
}
