import { readFileSync } from 'node:fs';
import type { RedisClient as Redis } from '@central-logger/redis';

const SCRIPT = readFileSync(new URL('./count-usage.lua', import.meta.url), 'utf8');

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

type CountUsage = (numKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>;

/**
 * Counts requests on the hot path. The requests of one event-loop turn share
 * one script call (one round trip) of HINCRBYs, merged per field, on the
 * current hour's hash, and an EXPIRE; each request's promise settles with
 * that call. A script rather than a plain pipeline so a reader (the roll-up's
 * HGETALL) sees all of a flush's increments or none: a later snapshot then
 * never has less of any counter than an earlier one. (A script rather than
 * MULTI: on a connection with many scripts defined, as BullMQ's is, each
 * ioredis pipeline object costs more than the round trip.)
 *
 * With `flushMs` > 0 the counts gather in the process for that long instead
 * of one turn (USAGE_FLUSH_MS): one call per interval, however busy; a
 * process that dies loses at most that interval's counts (`settled()`, which
 * shutdown awaits, sends them at once).
 */
export class UsageCounter {
  /** Increments not yet sent: hash key → field → amount. */
  private pending = new Map<string, Map<string, number>>();
  private flushing: Promise<void> | undefined;
  /** The sends so far, settled or not: what `settled` waits for. */
  private sending: Promise<unknown> = Promise.resolve();
  private readonly countUsage: CountUsage;

  /** Sends what `flushMs` gathered; set while counts wait for it. */
  private timer: NodeJS.Timeout | undefined;
  private release: (() => void) | undefined;

  /** `flushMs`: how long counts gather before they are sent (default 0: the next turn of the event loop). */
  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
    private readonly flushMs = 0,
  ) {
    redis.defineCommand('centralLoggerCountUsage', { lua: SCRIPT });
    this.countUsage = (redis as unknown as { centralLoggerCountUsage: CountUsage }).centralLoggerCountUsage.bind(redis);
  }

  record(u: RequestUsage): Promise<void> {
    const key = usageHashKey(this.prefix, hourOf(this.now()));
    let fields = this.pending.get(key);
    if (!fields) {
      fields = new Map();
      this.pending.set(key, fields);
    }
    const subject = 'keyId' in u.subject ? `k:${u.subject.keyId}` : `p:${u.subject.prefix}`;
    add(fields, `${subject}${SEP}requests`, 1);
    if (u.bytes > 0) add(fields, `${subject}${SEP}bytes`, u.bytes);
    if (u.eventsAccepted > 0) add(fields, `${subject}${SEP}events`, u.eventsAccepted);
    if (u.authFailure) add(fields, `${subject}${SEP}auth_failures`, 1);
    if (u.rateLimited) add(fields, `${subject}${SEP}rate_limited`, 1);
    if (u.rejected) add(fields, `${subject}${SEP}rej:${u.rejected.reason}`, Math.max(1, u.rejected.events));
    if (u.address !== undefined && 'keyId' in u.subject) add(fields, `a:${u.subject.keyId}${SEP}${u.address}`, 1);
    this.flushing ??= new Promise<void>((resolve) => this.schedule(resolve)).then(() => this.flush());
    return this.flushing;
  }

  private schedule(resolve: () => void): void {
    if (this.flushMs <= 0) {
      setImmediate(resolve);
      return;
    }
    this.release = resolve;
    this.timer = setTimeout(resolve, this.flushMs);
  }

  private async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = this.release = undefined;
    const pending = this.pending;
    this.pending = new Map();
    this.flushing = undefined;
    const args: Array<string | number> = [USAGE_TTL_SECONDS];
    for (const fields of pending.values()) {
      args.push(fields.size);
      for (const [field, n] of fields) args.push(field, n);
    }
    const sent = this.countUsage(pending.size, ...pending.keys(), ...args);
    this.sending = Promise.allSettled([this.sending, sent]);
    await sent;
  }

  /** Resolves once every increment recorded so far has reached Redis or failed (the rules read them from there). */
  async settled(): Promise<void> {
    // counts gathering for a later flush go now
    this.release?.();
    await this.flushing?.catch(() => {});
    await this.sending;
  }
}

function add(fields: Map<string, number>, field: string, n: number): void {
  fields.set(field, (fields.get(field) ?? 0) + n);
}
