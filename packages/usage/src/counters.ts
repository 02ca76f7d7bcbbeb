import type { Redis } from 'ioredis';

/** Hour buckets live this long in Redis: the roll-up reads them until then. */
export const USAGE_TTL_SECONDS = 48 * 3600;

export const HOUR_MS = 3_600_000;

/** The Redis hash holding one UTC hour's counters (`hourMs` is the hour's start). */
export function usageHashKey(prefix: string, hourMs: number): string {
  return `${prefix}:usage:h:${hourMs}`;
}

export const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;

/**
 * Who a request is counted against: the key that authenticated it, or, when
 * authentication failed, the prefix the key claimed (the roll-up resolves it
 * to a key; an unknown prefix counts against nobody).
 */
export type UsageSubject = { keyId: string } | { prefix: string };

/** What one request adds to its subject's counters. */
export interface RequestUsage {
  subject: UsageSubject;
  /** Where it came from; recorded for authenticated requests only (the key's address history). */
  address?: string;
  bytes: number;
  eventsAccepted: number;
  authFailure: boolean;
  rateLimited: boolean;
  /** The error code of a refused request and how many events it carried (1 when unknown). */
  rejected?: { reason: string; events: number };
}

/** Hash fields are `<subject>\t<metric>`: `k:<keyId>\trequests`, `p:<prefix>\tauth_failures`, `k:<keyId>\trej:<code>`, `a:<keyId>\t<address>`. */
export const SEP = '\t';

/**
 * Counts requests on the hot path. The requests of one event-loop turn share
 * one MULTI (one round trip) of HINCRBYs, merged per field, on the current
 * hour's hash, and an EXPIRE; each request's promise settles with that MULTI.
 * MULTI rather than a plain pipeline so a reader (the roll-up's HGETALL) sees
 * all of a flush's increments or none: a later snapshot then never has less of
 * any counter than an earlier one.
 */
export class UsageCounter {
  /** Increments not yet sent: hash key → field → amount. */
  private pending = new Map<string, Map<string, number>>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  record(u: RequestUsage): Promise<void> {
    const key = usageHashKey(this.prefix, hourOf(this.now()));
    let fields = this.pending.get(key);
    if (!fields) this.pending.set(key, (fields = new Map()));
    const add = (field: string, n: number) => fields.set(field, (fields.get(field) ?? 0) + n);
    const subject = 'keyId' in u.subject ? `k:${u.subject.keyId}` : `p:${u.subject.prefix}`;
    add(`${subject}${SEP}requests`, 1);
    if (u.bytes > 0) add(`${subject}${SEP}bytes`, u.bytes);
    if (u.eventsAccepted > 0) add(`${subject}${SEP}events`, u.eventsAccepted);
    if (u.authFailure) add(`${subject}${SEP}auth_failures`, 1);
    if (u.rateLimited) add(`${subject}${SEP}rate_limited`, 1);
    if (u.rejected) add(`${subject}${SEP}rej:${u.rejected.reason}`, Math.max(1, u.rejected.events));
    if (u.address !== undefined && 'keyId' in u.subject) add(`a:${u.subject.keyId}${SEP}${u.address}`, 1);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  private async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = new Map();
    this.flushing = undefined;
    const m = this.redis.multi();
    for (const [key, fields] of pending) {
      for (const [field, n] of fields) m.hincrby(key, field, n);
      m.expire(key, USAGE_TTL_SECONDS);
    }
    await m.exec();
  }
}
