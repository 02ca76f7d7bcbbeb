import type { RedisClient as Redis } from '@central-logger/redis';
import { tailNames } from './names.js';

export interface TailNotifierOptions {
  /** Tenants stored within this window share one Redis round trip. Default 10 ms. */
  coalesceMs?: number;
  onError?: (err: Error) => void;
  now?: () => number;
}

/**
 * The worker's half of the live tail: after an INSERT commits, tells the
 * ingest processes tailing its tenants to read what is new. It sends only
 * the tenant id, never an event: the tail reads the rows itself through the
 * tenant's read role, so what is tailed is what can be queried.
 *
 * Cost when no one tails: tenants stored within `coalesceMs` are looked up
 * in the set of tailed tenants with one ZMSCORE, and nothing is published
 * for the others. One lookup is in flight at a time; tenants stored
 * meanwhile wait for the next one (a Set: memory bounded by the tenants).
 *
 * Why no local cache of that set: a tail starts by registering its tenant,
 * then takes its first position. A row committed after that position is
 * looked up after its commit, so after the registration: it is announced.
 * A cached set could miss it.
 */
export class TailNotifier {
  private readonly names: ReturnType<typeof tailNames>;
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly coalesceMs: number;
  private readonly onError: (err: Error) => void;
  private readonly now: () => number;
  /** Lookups made and announcements published (tests and the bench read them). */
  readonly counts = { lookups: 0, published: 0 };

  constructor(
    private readonly redis: Redis,
    prefix: string,
    options: TailNotifierOptions = {},
  ) {
    this.names = tailNames(prefix);
    this.coalesceMs = options.coalesceMs ?? 10;
    this.onError = options.onError ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  /** Rows of `clientId` committed: announce them if someone tails the tenant. */
  stored(clientId: string): void {
    this.pending.add(clientId);
    if (!this.timer && !this.running) this.timer = setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** Announces what is pending now; resolves once done. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    if (this.pending.size === 0) return;
    const tenants = [...this.pending];
    this.pending = new Set();
    this.running = this.announce(tenants)
      .catch((err: Error) => this.onError(err))
      .finally(() => {
        this.running = undefined;
        if (this.pending.size > 0) this.timer ??= setTimeout(() => this.flush(), this.coalesceMs);
      });
    await this.running;
  }

  async close(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async announce(tenants: string[]): Promise<void> {
    this.counts.lookups++;
    const until = await this.redis.zmscore(this.names.tailed, ...tenants);
    const now = this.now();
    const tailed = tenants.filter((_, i) => until[i] !== null && Number(until[i]) > now);
    if (tailed.length === 0) return;
    const p = this.redis.pipeline();
    for (const t of tailed) p.publish(this.names.channel(t), '');
    await p.exec();
    this.counts.published += tailed.length;
  }
}
