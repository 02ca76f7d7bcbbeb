import type { RedisClient as Redis } from '@central-logger/redis';
import { tailNames } from './names.js';

// drops expired leases, then takes one if fewer than the limit are held: one
// atomic step, so a parallel burst on any number of processes never holds more
const TAKE = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('zadd', KEYS[1], ARGV[2], ARGV[4])
redis.call('pexpire', KEYS[1], ARGV[5])
return 1`;

/**
 * MAX_TAILS_PER_KEY across every ingest process: each open tail holds a
 * lease in Redis (a sorted set per key or user, member the stream id, score
 * its expiry). Leases are renewed while the stream lives and given back when
 * it ends; a process that dies without giving them back frees them within
 * `ttlMs`.
 */
export class TailLeases {
  private readonly names: ReturnType<typeof tailNames>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.names = tailNames(prefix);
  }

  /** Takes a lease for `streamId`; false when the key holds `max` already. */
  async take(keyId: string, streamId: string): Promise<boolean> {
    const now = this.now();
    const taken = await this.redis.eval(TAKE, 1, this.names.leases(keyId), now, now + this.ttlMs, this.max, streamId, this.ttlMs * 2);
    return taken === 1;
  }

  /** Renews the leases of these streams (one round trip). */
  async renew(streams: ReadonlyArray<{ keyId: string; streamId: string }>): Promise<void> {
    if (streams.length === 0) return;
    const until = this.now() + this.ttlMs;
    const p = this.redis.pipeline();
    for (const s of streams) {
      p.zadd(this.names.leases(s.keyId), 'XX', until, s.streamId);
      p.pexpire(this.names.leases(s.keyId), this.ttlMs * 2);
    }
    await p.exec();
  }

  async release(keyId: string, streamId: string): Promise<void> {
    await this.redis.zrem(this.names.leases(keyId), streamId);
  }
}
