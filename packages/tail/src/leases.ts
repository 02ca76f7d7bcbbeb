import type { RedisClient as Redis } from '@central-logger/redis';
import { tailNames } from './names.js';

// drops expired leases of the key and of its client, then takes one in both only if both are under their
// limit: one atomic step, so a parallel burst on any number of processes never holds more, and a refusal by
// either bound takes neither lease (no per-key lease is left behind when the client is full)
const TAKE = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[1])
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if redis.call('zcard', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
redis.call('zadd', KEYS[1], ARGV[2], ARGV[5])
redis.call('zadd', KEYS[2], ARGV[2], ARGV[5])
redis.call('pexpire', KEYS[1], ARGV[6])
redis.call('pexpire', KEYS[2], ARGV[6])
return 1`;

/** What `take` did: took both leases, or which bound refused (the key's is checked first). */
export type LeaseTaken = 'taken' | 'key_full' | 'client_full';

/** A held lease: the stream, its key (or user) and its client. */
export interface TailLease {
  clientId: string;
  keyId: string;
  streamId: string;
}

/**
 * MAX_TAILS_PER_KEY and MAX_TAILS_PER_CLIENT across every ingest process:
 * each open tail holds a lease in Redis in two sorted sets, its key's (or
 * user's) and its client's (member the stream id, score its expiry). Leases
 * are renewed while the stream lives and given back when it ends; a process
 * that dies without giving them back frees them within `ttlMs`. Both sets are
 * under the prefix's hash tag (tailNames), so on a Redis Cluster the script
 * that takes both runs on one slot.
 */
export class TailLeases {
  private readonly names: ReturnType<typeof tailNames>;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly max: { perKey: number; perClient: number },
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.names = tailNames(prefix);
  }

  /** Takes a lease for the stream in its key's and its client's set, or in neither when either holds its limit already. */
  async take({ clientId, keyId, streamId }: TailLease): Promise<LeaseTaken> {
    const now = this.now();
    const keys = [this.names.leases(keyId), this.names.clientLeases(clientId)];
    const taken = await this.redis.eval(TAKE, 2, ...keys, now, now + this.ttlMs, this.max.perKey, this.max.perClient, streamId, this.ttlMs * 2);
    return taken === 1 ? 'taken' : taken === 2 ? 'client_full' : 'key_full';
  }

  /** Renews the leases of these streams, in both sets (one round trip). */
  async renew(leases: readonly TailLease[]): Promise<void> {
    if (leases.length === 0) return;
    const until = this.now() + this.ttlMs;
    const p = this.redis.pipeline();
    for (const l of leases) {
      for (const key of [this.names.leases(l.keyId), this.names.clientLeases(l.clientId)]) {
        p.zadd(key, 'XX', until, l.streamId);
        p.pexpire(key, this.ttlMs * 2);
      }
    }
    await p.exec();
  }

  /** Gives the stream's leases back (both sets, one round trip). */
  async release({ clientId, keyId, streamId }: TailLease): Promise<void> {
    await this.redis.pipeline().zrem(this.names.leases(keyId), streamId).zrem(this.names.clientLeases(clientId), streamId).exec();
  }
}
