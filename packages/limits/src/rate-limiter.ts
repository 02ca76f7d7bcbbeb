import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { msToNextUtcDay, utcDay, type Limits } from './limits.js';

const SCRIPT = readFileSync(new URL('./rate-limit.lua', import.meta.url), 'utf8');

export type Verdict = 'ok' | 'requests' | 'events' | 'quota';
const VERDICTS: Verdict[] = ['ok', 'requests', 'events', 'quota'];

/** One limit's state, as the RateLimit-* headers show it. */
export interface LimitState {
  name: 'requests' | 'events' | 'quota';
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
}

export interface RateRequest {
  clientId: string;
  keyId: string;
  events: number;
  limits: Limits;
}

/** Groups (distinct keys) per script call, and requests per group: each call stays short, as Redis runs nothing else meanwhile. */
const MAX_GROUPS = 100;
const MAX_GROUP = 1_000;

type Evaluate = (numKeys: number, ...keysAndArgs: Array<string | number>) => Promise<number[]>;

/** The requests of one key (same limits, same day, same peek) waiting for the next script call. */
interface Group {
  keys: [string, string, string];
  args: Array<string | number>;
  events: number[];
  waiters: Array<{ resolve: (result: number[]) => void; reject: (err: unknown) => void }>;
}

/**
 * Per-key token buckets (requests/s and events/s, with burst) and the
 * per-client daily event quota, checked and taken together by one Lua script:
 * atomic across every ingest process. The requests of one turn of the event
 * loop share one script call, and the requests of one key in it share one
 * read and one write of its buckets: a request costs at most one Redis round
 * trip and under load a fraction of one. The clock is Redis's, so processes with
 * skewed clocks share one bucket fairly.
 */
export class RateLimiter {
  private readonly evaluate: Evaluate;
  private pending = new Map<string, Group>();
  private sealed = 0;

  constructor(private readonly redis: Redis, private readonly prefix: string) {
    redis.defineCommand('centralLoggerRateLimit', { lua: SCRIPT });
    this.evaluate = (redis as unknown as { centralLoggerRateLimit: Evaluate }).centralLoggerRateLimit.bind(redis);
  }

  /** Takes one request and `req.events` events, or refuses them all. */
  take(req: RateRequest, now = Date.now()): Promise<RateDecision> {
    return this.run(req, false, now);
  }

  /** The state of the limits, taking and recording nothing (for answers refused before the limits are checked). */
  peek(req: Omit<RateRequest, 'events'>, now = Date.now()): Promise<RateDecision> {
    return this.run({ ...req, events: 0 }, true, now);
  }

  /** Events the client stored on the UTC day of `now`. */
  async usedToday(clientId: string, now = Date.now()): Promise<number> {
    return Number((await this.redis.get(this.dayKeys(clientId, utcDay(now))[0])) ?? 0);
  }

  private run(req: RateRequest, peek: boolean, now: number): Promise<RateDecision> {
    const toMidnight = msToNextUtcDay(now);
    return this.call(req, peek, utcDay(now), toMidnight + 3_600_000).then((out) => decide(req, out, toMidnight));
  }


  /** Queues one request for the script call of this turn of the event loop, in the group of its key. */
  private call(req: RateRequest, peek: boolean, day: string, dayTtlMs: number): Promise<number[]> {
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) setImmediate(() => this.flush());
      const l = req.limits;
      // a key belongs to one client; the limits of a group's first request apply to all of it (they change
      // between turns of the event loop, when an override is re-read)
      const id = `${req.keyId}\n${day}\n${peek ? 1 : 0}`;
      let group = this.pending.get(id);
      if (group && group.events.length >= MAX_GROUP) {
        // full: it goes out first under a name of its own, and a new group follows it
        this.pending.delete(id);
        this.pending.set(`${id}\n${++this.sealed}`, group);
        group = undefined;
      }
      if (!group) {
        group = {
          keys: [`${this.prefix}:rl:k:${req.keyId}`, ...this.dayKeys(req.clientId, day)],
          args: [l.requestsPerSecond, l.requestBurst, l.eventsPerSecond, l.eventBurst, l.eventsPerDay, dayTtlMs, peek ? 1 : 0],
          events: [],
          waiters: [],
        };
        this.pending.set(id, group);
      }
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
    const keys = groups.flatMap((g) => g.keys);
    const args = groups.flatMap((g) => [...g.args, g.events.length, ...g.events]);
    this.evaluate(keys.length, ...keys, ...args).then(
      (out) => {
        let i = 0;
        for (const g of groups) for (const w of g.waiters) w.resolve(out.slice(8 * i, 8 * ++i));
      },
      (err: unknown) => { for (const g of groups) for (const w of g.waiters) w.reject(err); },
    );
  }

  private dayKeys(clientId: string, day: string): [string, string] {
    return [`${this.prefix}:rl:d:${clientId}:${day}`, `${this.prefix}:rl:w:${clientId}:${day}`];
  }
}

/** The decision for one request from its 8 numbers of the script's answer. */
function decide(req: RateRequest, out: number[], toMidnight: number): RateDecision {
  const { requestBurst, eventBurst, eventsPerDay } = req.limits;
  const [v, r, e, used, retryMs, warned, rReset, eReset] = out as [number, number, number, number, number, number, number, number];
  const verdict = VERDICTS[v] ?? 'ok';
  const states: LimitState[] = [
    { name: 'requests', limit: requestBurst, remaining: Math.max(0, r), resetS: seconds(rReset) },
    { name: 'events', limit: eventBurst, remaining: Math.max(0, e), resetS: seconds(eReset) },
    { name: 'quota', limit: eventsPerDay, remaining: Math.max(0, eventsPerDay - used), resetS: seconds(toMidnight) },
  ];
  const warnings: Array<80 | 100> = [];
  if (warned & 1) warnings.push(80);
  if (warned & 2) warnings.push(100);
  const decision: RateDecision = { verdict, states, usedToday: used, warnings };
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
  if (d.verdict !== 'ok') return d.states.find((s) => s.name === d.verdict)!;
  return d.states.reduce((a, b) => (b.remaining / b.limit < a.remaining / a.limit ? b : a));
}
