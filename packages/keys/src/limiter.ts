import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface FailureLimiterOptions {
  /** Failed authentications one address may make per window before it is answered 429. */
  limit: number;
  /** Window length in seconds; a blocked address waits out the rest of it. */
  windowSeconds: number;
  /** Redis key namespace, so deployments (and test runs) sharing a Redis do not mix. */
  keyPrefix: string;
  now?: () => number;
}

/**
 * Counts failed authentications per address in Redis (one atomic
 * INCR-with-expiry script, so the count is shared by every ingest-api
 * process) and says when an address is over the threshold. A process that
 * sees an address over the limit also remembers it locally until the window
 * ends, so a blocked address costs neither Redis nor bcrypt nor Postgres.
 * If Redis is unreachable it fails open: authentication still answers 401.
 */
export class FailureLimiter {
  private readonly limiter: RateLimiterRedis;
  private readonly blocked = new Map<string, number>();
  private readonly now: () => number;

  constructor(redis: Redis, private readonly options: FailureLimiterOptions) {
    this.now = options.now ?? Date.now;
    this.limiter = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${options.keyPrefix}:auth-fail`,
      points: options.limit,
      duration: options.windowSeconds,
      rejectIfRedisNotReady: true,
    });
  }

  /** Failed authentications an address may make per window. */
  get limit(): number {
    return this.options.limit;
  }

  /** Milliseconds until `address` may try again, or 0 when it is not blocked (local knowledge only). */
  blockedFor(address: string): number {
    const until = this.blocked.get(address);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.blocked.delete(address);
    return 0;
  }

  /** Counts one failure; resolves to the milliseconds to wait when this one is over the limit, else 0. */
  async fail(address: string): Promise<number> {
    try {
      await this.limiter.consume(address);
      return 0;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return 0;
      const wait = Math.max(err.msBeforeNext, 1);
      this.blocked.set(address, this.now() + wait);
      this.prune();
      return wait;
    }
  }

  // the local map only ever holds blocked addresses; drop the ones whose window ended
  private prune(): void {
    if (this.blocked.size < 10_000) return;
    const now = this.now();
    for (const [address, until] of this.blocked) if (until <= now) this.blocked.delete(address);
  }
}
