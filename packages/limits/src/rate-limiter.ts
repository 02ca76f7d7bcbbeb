import { readFileSync } from 'node:fs';
import { isCluster, tenantKey, type RedisClient as Redis } from '@central-logger/redis';
import { Leases, N, type GiveBack, type LeaseOptions } from './lease.js';
import { msToNextUtcDay, utcDay, type FairShare, type Limits } from './limits.js';

const SCRIPT = readFileSync(new URL('./rate-limit.lua', import.meta.url), 'utf8');

/** Which limit refused a request: `tenant` is the client-wide events/s, `backlog` the full bulk lane (fair persistence). */
export type Verdict = 'ok' | 'requests' | 'events' | 'quota' | 'tenant' | 'backlog';
const VERDICTS: Verdict[] = ['ok', 'requests', 'events', 'quota', 'tenant', 'backlog'];

/**
 * The queue lane of an accepted request: `fast` while its client is within
 * its fair share of events/s, `bulk` for the rest, which workers take only
 * when the fast lane is empty.
 */
export type Lane = 'fast' | 'bulk';

/** One limit's state, as the RateLimit-* headers show it. */
export interface LimitState {
  name: 'requests' | 'events' | 'tenant' | 'quota';
  limit: number;
  remaining: number;
  /** Seconds until the limit is fully available again. */
  resetS: number;
}

export interface RateDecision {
  verdict: Verdict;
  /** Seconds to wait before retrying; set when the verdict is not ok. */
  retryAfterS?: number;
  states: LimitState[];
  /** Events the client stored today, this request included when accepted. */
  usedToday: number;
  /** Thresholds of the daily quota (80, 100) this request crossed first today. */
  warnings: Array<80 | 100>;
  /** Where an accepted request's events go. */
  lane: Lane;
}

export interface RateRequest {
  clientId: string;
  keyId: string;
  events: number;
  limits: Limits;
  /** The bulk lane is full (the last backlog sample): refuse a request that would go there. */
  bulkClosed?: boolean;
}

/** Groups (distinct keys) per script call, and requests per group: each call stays short, as Redis runs nothing else meanwhile. */
const MAX_GROUPS = 100;
const MAX_GROUP = 1_000;

type Evaluate = (numKeys: number, ...keysAndArgs: Array<string | number>) => Promise<number[]>;

/** The requests of one key (same limits, same day, same peek) waiting for the next script call. */
interface Group {
  clientId: string;
  keyId: string;
  day: string;
  limits: Limits;
  keys: [string, string, string, string];
  args: Array<string | number>;
  /** Unspent leased tokens going back with this call. */
  back: GiveBack;
  /** The lease this call asks for: requests, events (zeros: none). */
  want: [number, number];
  events: number[];
  waiters: Array<{ resolve: (result: number[]) => void; reject: (err: unknown) => void }>;
}

/**
 * Per-key token buckets (requests/s and events/s, with burst), a per-client
 * one (events/s across all its keys), the per-client daily event quota, and
 * the client's fair share (which lane its events go to), checked and taken together by one Lua script:
 * atomic across every ingest process. The requests of one turn of the event
 * loop share one script call, and the requests of one key in it share one
 * read and one write of its buckets: a request costs at most one Redis round
 * trip and under load a fraction of one. The clock is Redis's, so processes with
 * skewed clocks share one bucket fairly.
 *
 * With leases (`lease.ms` > 0, see LeaseOptions) a busy key's call also takes
 * tokens ahead, and the key's next requests spend them here, with no round
 * trip, until they run out or the lease ends. What a request finds in its
 * lease is exact in one process (a request the lease cannot cover gives the
 * rest back in the call that decides it); across processes a key is never
 * admitted beyond its limits, and can be refused early by at most what the
 * other processes hold.
 */
export class RateLimiter {
  private readonly evaluate: Evaluate;
  private pending = new Map<string, Group>();
  private sealed = 0;
  private readonly leases: Leases;
  private readonly sweeper: NodeJS.Timeout | undefined;

  /** `fair`: the fast lane's share of each client (FAIR_SHARE_*); `lease`: leased tokens (RATE_LEASE_*; default off). */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly fair: FairShare = { eventsPerSecond: 2_000, burst: 10_000 },
    lease: LeaseOptions = { ms: 0, share: 0 },
  ) {
    redis.defineCommand('centralLoggerRateLimit', { lua: SCRIPT });
    this.evaluate = (redis as unknown as { centralLoggerRateLimit: Evaluate }).centralLoggerRateLimit.bind(redis);
    this.leases = new Leases(lease);
    if (this.leases.enabled) {
      this.sweeper = setInterval(() => this.giveBack(this.leases.sweep(Date.now())), lease.ms);
      this.sweeper.unref();
    }
  }

  /** Takes one request and `req.events` events, or refuses them all. */
  take(req: RateRequest, now = Date.now()): Promise<RateDecision> {
    if (this.leases.enabled) {
      const day = utcDay(now);
      const local = this.leases.spend(req.keyId, req.clientId, req.events, req.limits, day, req.bulkClosed === true, now);
      if (local) return Promise.resolve(decide(req, local, msToNextUtcDay(now)));
    }
    return this.run(req, false, now);
  }

  /** Gives every lease back to Redis (on shutdown: what this process did not spend is the other processes' again). */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.giveBack(this.leases.all());
  }

  /** The state of the limits, taking and recording nothing (for answers refused before the limits are checked). */
  peek(req: Omit<RateRequest, 'events'>, now = Date.now()): Promise<RateDecision> {
    return this.run({ ...req, events: 0 }, true, now);
  }

  /** Events the client stored on the UTC day of `now`. */
  async usedToday(clientId: string, now = Date.now()): Promise<number> {
    // less what this process leased and has not spent (other processes' leases are counted: see LeaseOptions)
    return (await eventsUsedToday(this.redis, this.prefix, clientId, now)) - this.leases.heldByClient(clientId, utcDay(now));
  }

  private run(req: RateRequest, peek: boolean, now: number): Promise<RateDecision> {
    const toMidnight = msToNextUtcDay(now);
    const day = utcDay(now);
    return this.call(req, peek, day, toMidnight + 3_600_000).then((out) => {
      if (peek) {
        // what this process holds of the key is still the key's: its own view stays exact
        const [requests, events] = this.leases.held(req.keyId, day);
        out[1]! += requests;
        out[2]! += events;
        out[3]! -= events;
        out[8]! += events;
      }
      return decide(req, out, toMidnight);
    });
  }

  /** Sends expired leases back, each in a group of no requests. */
  private giveBack(expired: Array<{ keyId: string; clientId: string; day: string; limits: Limits; back: GiveBack }>): Promise<unknown> {
    const now = Date.now();
    return Promise.allSettled(
      expired.map((x) => {
        const group = this.newGroup({ clientId: x.clientId, keyId: x.keyId, events: 0, limits: x.limits }, false, x.day, msToNextUtcDay(now) + 3_600_000);
        group.back = x.back;
        return this.enqueue(`${x.keyId}\n${x.day}\nback\n${++this.sealed}`, group);
      }),
    );
  }

  /** A group of no requests yet; a call with it asks for the key's lease when it is worth one. */
  private newGroup(req: RateRequest, peek: boolean, day: string, dayTtlMs: number): Group {
    const l = req.limits;
    return {
      clientId: req.clientId,
      keyId: req.keyId,
      day,
      limits: l,
      keys: [this.key(req.clientId, `rl:k:${req.keyId}`), this.key(req.clientId, `rl:t:${req.clientId}`), ...this.dayKeys(req.clientId, day)],
      args: [
        l.requestsPerSecond,
        l.requestBurst,
        l.eventsPerSecond,
        l.eventBurst,
        l.tenantEventsPerSecond,
        l.tenantEventBurst,
        this.fair.eventsPerSecond,
        this.fair.burst,
        l.eventsPerDay,
        dayTtlMs,
        peek ? 1 : 0,
        req.bulkClosed ? 1 : 0,
      ],
      back: [0, 0, 0],
      want: [0, 0],
      events: [],
      waiters: [],
    };
  }

  /** Queues a group of its own (no requests) for the next script call; settles with it. */
  private enqueue(id: string, group: Group): Promise<number[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      group.waiters.push({ resolve, reject });
      this.pending.set(id, group);
    });
  }

  /** Queues one request for the script call of this turn of the event loop, in the group of its key. */
  private call(req: RateRequest, peek: boolean, day: string, dayTtlMs: number): Promise<number[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      const l = req.limits;
      // a key belongs to one client; the limits of a group's first request apply to all of it (they change
      // between turns of the event loop, when an override is re-read)
      const closed = req.bulkClosed ? 1 : 0;
      const id = `${req.keyId}\n${day}\n${peek ? 1 : 0}\n${closed}`;
      let group = this.pending.get(id);
      if (group && group.events.length >= MAX_GROUP) {
        // full: it goes out first under a name of its own, and a new group follows it
        this.pending.delete(id);
        this.pending.set(`${id}\n${++this.sealed}`, group);
        group = undefined;
      }
      if (!group) {
        group = this.newGroup(req, peek, day, dayTtlMs);
        if (!peek && this.leases.enabled) group.want = this.leases.want(req.keyId, l);
        this.pending.set(id, group);
      }
      if (!peek && this.leases.enabled) addTo(group.back, this.leases.takeBack(req.keyId, day));
      group.events.push(req.events);
      group.waiters.push({ resolve, reject });
    });
  }

  private flush(): void {
    // a bounded number of groups per call keeps each script run short: Redis runs nothing else meanwhile
    const groups: Group[] = [];
    for (const [id, group] of this.pending) {
      if (groups.length === MAX_GROUPS) break;
      groups.push(group);
      this.pending.delete(id);
    }
    if (this.pending.size > 0) setImmediate(() => this.flush());
    // on a cluster a script's keys must share a slot: one call per tenant (its keys carry its hash tag)
    if (!isCluster(this.redis)) {
      this.send(groups);
      return;
    }
    const byClient = new Map<string, Group[]>();
    for (const g of groups) byClient.set(g.clientId, [...(byClient.get(g.clientId) ?? []), g]);
    for (const batch of byClient.values()) this.send(batch);
  }

  private send(groups: Group[]): void {
    const keys = groups.flatMap((g) => g.keys);
    const args = groups.flatMap((g) => [...g.args, ...g.back, ...g.want, g.events.length, ...g.events]);
    this.evaluate(keys.length, ...keys, ...args).then(
      (out) => {
        const now = Date.now();
        let o = 0;
        for (const g of groups) {
          // a group's answer: N numbers per request, then the lease granted (3)
          const answers = g.events.map((_, i) => out.slice(o + N * i, o + N * (i + 1)));
          o += N * g.events.length;
          if (g.want[0] > 0) this.leases.granted(g.keyId, g.day, g.limits, out.slice(o, o + 3), answers.at(-1), now);
          o += 3;
          // a group of no requests (a lease given back) has one waiter and no answer
          for (let i = 0; i < g.waiters.length; i++) g.waiters[i]!.resolve(answers[i] ?? []);
        }
      },
      (err: unknown) => {
        for (const g of groups) {
          if (g.want[0] > 0) this.leases.failed(g.keyId);
          for (const w of g.waiters) w.reject(err);
        }
      },
    );
  }

  private key(clientId: string, rest: string): string {
    return tenantKey(this.redis, this.prefix, clientId, rest);
  }

  private dayKeys(clientId: string, day: string): [string, string] {
    return dayKeysOf(this.redis, this.prefix, clientId, day);
  }
}

function addTo(into: GiveBack, more: GiveBack): void {
  into[0] += more[0];
  into[1] += more[1];
  into[2] += more[2];
}

/** A client's keys of one day (events stored, warnings given): on a cluster under the client's hash tag (tenantKey). */
function dayKeysOf(redis: Redis, prefix: string, clientId: string, day: string): [string, string] {
  return [tenantKey(redis, prefix, clientId, `rl:d:${clientId}:${day}`), tenantKey(redis, prefix, clientId, `rl:w:${clientId}:${day}`)];
}

/** Events the client stored against its daily quota on the UTC day of `now` (read only; what the admin app shows). */
export async function eventsUsedToday(redis: Redis, prefix: string, clientId: string, now = Date.now()): Promise<number> {
  return Number((await redis.get(dayKeysOf(redis, prefix, clientId, utcDay(now))[0])) ?? 0);
}

/** The decision for one request from its numbers of the script's answer. */
function decide(req: RateRequest, out: number[], toMidnight: number): RateDecision {
  const { requestBurst, eventBurst, tenantEventBurst, eventsPerDay } = req.limits;
  const [v, r, e, used, retryMs, warned, rReset, eReset, te, teReset, lane] = out as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const verdict = VERDICTS[v] ?? 'ok';
  const states: LimitState[] = [
    { name: 'requests', limit: requestBurst, remaining: Math.max(0, r), resetS: seconds(rReset) },
    { name: 'events', limit: eventBurst, remaining: Math.max(0, e), resetS: seconds(eReset) },
    { name: 'tenant', limit: tenantEventBurst, remaining: Math.max(0, te), resetS: seconds(teReset) },
    { name: 'quota', limit: eventsPerDay, remaining: Math.max(0, eventsPerDay - used), resetS: seconds(toMidnight) },
  ];
  const warnings: Array<80 | 100> = [];
  if (warned & 1) warnings.push(80);
  if (warned & 2) warnings.push(100);
  const decision: RateDecision = { verdict, states, usedToday: used, warnings, lane: lane === 1 ? 'bulk' : 'fast' };
  if (verdict !== 'ok') decision.retryAfterS = Math.max(1, seconds(retryMs < 0 ? toMidnight : retryMs));
  return decision;
}

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/**
 * The state the RateLimit-* headers describe: the limit that refused the
 * request, otherwise the one closest to running out.
 */
export function headlineState(d: RateDecision): LimitState {
  // the full bulk lane is no limit of its own: the client's event rate is what it asks to lower
  if (d.verdict === 'backlog') return d.states.find((s) => s.name === 'tenant')!;
  if (d.verdict !== 'ok') return d.states.find((s) => s.name === d.verdict)!;
  return d.states.reduce((a, b) => (b.remaining / b.limit < a.remaining / a.limit ? b : a));
}
