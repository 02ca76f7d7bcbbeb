import type { RedisClient as Redis } from '@central-logger/redis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface FailureLimiterOptions {
  /** Failed authentications one address may make per window before it is answered 429. */
  limit: number;
  /**
   * Failed secret checks one key prefix may take per window, from any address,
   * before its unverified uses are answered 429 without hashing. Default: no
   * per-prefix limit.
   */
  prefixLimit?: number;
  /** Window length in seconds; a blocked address or prefix waits out the rest of it. */
  windowSeconds: number;
  /** Redis key namespace, so deployments (and test runs) sharing a Redis do not mix. */
  keyPrefix: string;
  now?: () => number;
}

/** Why a secret check was refused before hashing, and for how long. */
export interface Refusal {
  /** Milliseconds to wait. */
  waitMs: number;
  /** What is over its limit. */
  by: 'address' | 'prefix';
  /** That limit. */
  limit: number;
}

/**
 * Counts failed authentications per address, and failed secret checks per
 * key prefix, in Redis (atomic INCR-with-expiry scripts, so every ingest-api
 * process shares the counts), and says when either is over its threshold.
 *
 * A secret check takes its tokens (`take`) before bcrypt runs and gives them
 * back (`giveBack`) once the secret verified: a limiter that counts after the
 * work is no limit under concurrency. Failures that cost no hash (no key, a
 * malformed key, an unknown prefix) are counted after the fact (`fail`).
 *
 * A process that sees an address or prefix over the limit also remembers it
 * locally until the window ends, so a blocked one costs neither Redis nor
 * bcrypt nor Postgres. If Redis is unreachable it fails open (no 429 from
 * here); the verifier's local in-flight bounds still cap the hashing.
 */
export class FailureLimiter {
  private readonly byAddress: RateLimiterRedis;
  private readonly byPrefix: RateLimiterRedis | undefined;
  private readonly blocked = new Map<string, number>();
  private readonly blockedPrefixes = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    redis: Redis,
    private readonly options: FailureLimiterOptions,
  ) {
    this.now = options.now ?? Date.now;
    const common = { storeClient: redis, duration: options.windowSeconds, rejectIfRedisNotReady: true };
    this.byAddress = new RateLimiterRedis({ ...common, keyPrefix: `${options.keyPrefix}:auth-fail`, points: options.limit });
    this.byPrefix = options.prefixLimit
      ? new RateLimiterRedis({ ...common, keyPrefix: `${options.keyPrefix}:auth-fail-prefix`, points: options.prefixLimit })
      : undefined;
  }

  /** Failed authentications an address may make per window. */
  get limit(): number {
    return this.options.limit;
  }

  /** Failed secret checks a prefix may take per window (0: no such limit). */
  get prefixLimit(): number {
    return this.options.prefixLimit ?? 0;
  }

  /** Milliseconds until `address` may try again, or 0 when it is not blocked (local knowledge only). */
  blockedFor(address: string): number {
    return left(this.blocked, address, this.now());
  }

  /** Milliseconds until unverified uses of `prefix` may try again, or 0 (local knowledge only). */
  prefixBlockedFor(prefix: string): number {
    return left(this.blockedPrefixes, prefix, this.now());
  }

  /** Counts one failure that cost no hash; resolves to the milliseconds to wait when this one is over the limit, else 0. */
  async fail(address: string): Promise<number> {
    return this.consume(this.byAddress, this.blocked, address);
  }

  /**
   * Counts a failure for `address` and for `prefix` before their secret check
   * runs; resolves to the refusal when either is over its limit (the check must
   * not run), else undefined. Give the tokens back when the secret verifies.
   */
  async take(address: string, prefix: string): Promise<Refusal | undefined> {
    const [a, p] = await Promise.all([
      this.consume(this.byAddress, this.blocked, address),
      this.byPrefix ? this.consume(this.byPrefix, this.blockedPrefixes, prefix) : 0,
    ]);
    if (a > 0) return { waitMs: a, by: 'address', limit: this.options.limit };
    if (p > 0) return { waitMs: p, by: 'prefix', limit: this.options.prefixLimit! };
    return undefined;
  }

  /** The secret verified: the tokens `take` counted were no failure. Fire and forget; Redis errors are ignored. */
  giveBack(address: string, prefix: string): void {
    this.byAddress.reward(address, 1).catch(() => {});
    this.byPrefix?.reward(prefix, 1).catch(() => {});
  }

  private async consume(limiter: RateLimiterRedis, blocked: Map<string, number>, key: string): Promise<number> {
    try {
      await limiter.consume(key);
      return 0;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return 0; // Redis unreachable: fail open
      const wait = Math.max(err.msBeforeNext, 1);
      blocked.set(key, this.now() + wait);
      prune(blocked, this.now());
      return wait;
    }
  }
}

function left(blocked: Map<string, number>, key: string, now: number): number {
  const until = blocked.get(key);
  if (until === undefined) return 0;
  if (until > now) return until - now;
  blocked.delete(key);
  return 0;
}

// the local maps only ever hold blocked keys; drop the ones whose window ended
function prune(blocked: Map<string, number>, now: number): void {
  if (blocked.size < 10_000) return;
  for (const [key, until] of blocked) if (until <= now) blocked.delete(key);
}
