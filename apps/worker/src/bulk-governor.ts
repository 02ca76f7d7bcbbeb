import type { QueueLane } from '@central-logger/queue';

export interface BulkGovernorOptions {
  /** Bulk jobs at once while another tenant uses the fast lane (BULK_WORKER_CONCURRENCY). */
  shared: number;
  /** Bulk jobs at once while no one else does (WORKER_CONCURRENCY): the whole machine for the busy tenant. */
  alone: number;
  /** How long a tenant seen in a lane counts as present there. Default 2000 ms. */
  windowMs?: number;
  /** How often the bulk worker's concurrency is reconsidered. Default 100 ms. */
  intervalMs?: number;
  now?: () => number;
}

/**
 * Keeps fair persistence work-conserving. The bulk lane's worker is held to
 * a few jobs at once only while some tenant that is *not* in the bulk lane
 * has events in the fast lane: someone whose events the bulk rows would
 * delay. A busy tenant alone on the service (its own fair share rides the
 * fast lane too) gets the worker's whole concurrency, so one tenant's
 * batched throughput is not cut to protect no one.
 */
export class BulkGovernor {
  private readonly seenIn: Record<QueueLane, Map<string, number>> = { fast: new Map(), bulk: new Map() };
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly bulkWorker: { concurrency: number },
    private readonly options: BulkGovernorOptions,
  ) {
    this.windowMs = options.windowMs ?? 2_000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => this.adjust(), options.intervalMs ?? 100).unref();
    this.adjust();
  }

  /** A group of `clientId`'s events was stored from `lane`. */
  seen(lane: QueueLane, clientId: string): void {
    this.seenIn[lane].set(clientId, this.now());
  }

  /** Whether some tenant outside the bulk lane is in the fast lane now. */
  contended(): boolean {
    const since = this.now() - this.windowMs;
    for (const lane of [this.seenIn.fast, this.seenIn.bulk]) for (const [client, at] of lane) if (at < since) lane.delete(client);
    for (const client of this.seenIn.fast.keys()) if (!this.seenIn.bulk.has(client)) return true;
    return false;
  }

  adjust(): void {
    const want = this.contended() ? this.options.shared : this.options.alone;
    if (this.bulkWorker.concurrency !== want) this.bulkWorker.concurrency = want;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
