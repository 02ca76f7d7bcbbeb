// Leased rate-limit tokens (RATE_LEASE_MS, RATE_LEASE_SHARE): a busy key's requests are decided in the
// process, with no Redis round trip, from tokens taken ahead; across two processes (two limiters on two
// connections) a key is never admitted beyond its limits, and what one process holds, which another may be
// refused for, is at most its share of the burst.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsUsedToday, RateLimiter, type LeaseOptions, type Limits, type RateDecision } from '@central-logger/limits';
import { REDIS_URL } from './support/stack.js';

const connections: Redis[] = [];
afterAll(() => {
  for (const c of connections) c.disconnect();
});

// slow refill, so the tests' requests cannot earn new tokens while they run
const LIMITS: Limits = {
  requestsPerSecond: 0.01,
  requestBurst: 100,
  eventsPerSecond: 0.01,
  eventBurst: 1000,
  tenantEventsPerSecond: 0.01,
  tenantEventBurst: 1000,
  eventsPerDay: 1e9,
};

/** A limiter as one ingest process has it: a connection of its own, counting its script calls. */
function processLimiter(prefix: string, lease: LeaseOptions): { limiter: RateLimiter; calls: () => number } {
  const redis = new Redis(REDIS_URL);
  connections.push(redis);
  let calls = 0;
  const counted = Object.assign(Object.create(redis) as Redis, {
    sendCommand: (command: { name: string }) => {
      if (command.name === 'evalsha' || command.name === 'eval') calls++;
      return redis.sendCommand(command as never);
    },
  });
  return { limiter: new RateLimiter(counted, prefix, undefined, lease), calls: () => calls };
}

/** `turns` turns of the event loop, each with `perTurn` requests of one key of `events` events. */
async function drive(limiter: RateLimiter, keyId: string, turns: number, perTurn: number, events = 1, limits = LIMITS): Promise<RateDecision[]> {
  const all: RateDecision[] = [];
  for (let t = 0; t < turns; t++) {
    all.push(...(await Promise.all(Array.from({ length: perTurn }, () => limiter.take({ clientId: `client-${keyId}`, keyId, events, limits })))));
  }
  return all;
}

const ok = (ds: RateDecision[]) => ds.filter((d) => d.verdict === 'ok').length;

describe('leased rate-limit tokens', () => {
  it('decides most requests of a busy key with no script call', async () => {
    const prefix = `{lease-${randomUUID()}}`;
    const leased = processLimiter(prefix, { ms: 60_000, share: 0.5 });
    const unleased = processLimiter(prefix, { ms: 0, share: 0 });
    expect(ok(await drive(leased.limiter, 'key_busy', 20, 2))).toBe(40);
    expect(ok(await drive(unleased.limiter, 'key_other', 20, 2))).toBe(40);
    // without leases: one call per turn; with them, calls until the key is busy enough for a lease (4 requests),
    // then one each time it runs out, each lease as large as the key's use so far in the window (4, 10, 20)
    expect(unleased.calls()).toBe(20);
    expect(leased.calls()).toBeLessThanOrEqual(5);
    await leased.limiter.close();
  });

  it('never admits a key beyond its burst across two processes, and one process holds at most its share of it', async () => {
    const prefix = `{lease-${randomUUID()}}`;
    const share = 0.2;
    const a = processLimiter(prefix, { ms: 60_000, share });
    const b = processLimiter(prefix, { ms: 60_000, share });
    // a busy on the key first (it leases), then both in turn until neither gets more
    const fromA = await drive(a.limiter, 'key_shared', 5, 4);
    let admitted = ok(fromA);
    for (let round = 0; round < 20; round++) {
      admitted += ok(await drive(b.limiter, 'key_shared', 1, 7));
      admitted += ok(await drive(a.limiter, 'key_shared', 1, 3));
    }
    expect(admitted).toBeLessThanOrEqual(LIMITS.requestBurst);
    // what is missing is what the two hold in leases: at most share × burst each
    expect(admitted).toBeGreaterThanOrEqual(LIMITS.requestBurst - 2 * share * LIMITS.requestBurst);
    // given back on close, the rest is anyone's again, and the total is the burst exactly
    await a.limiter.close();
    await b.limiter.close();
    const after = processLimiter(prefix, { ms: 0, share: 0 });
    admitted += ok(await drive(after.limiter, 'key_shared', 1, 50));
    expect(admitted).toBe(LIMITS.requestBurst);
  });

  it('counts leased events against the day only until they are given back', async () => {
    const prefix = `{lease-${randomUUID()}}`;
    const p = processLimiter(prefix, { ms: 60_000, share: 0.5 });
    const limits = { ...LIMITS, eventsPerDay: 500 };
    const decisions = await drive(p.limiter, 'key_day', 10, 3, 5, limits);
    expect(ok(decisions)).toBe(30);
    // the headers' view, leased or not, is the key's: events used today and requests left, one request after another
    expect(decisions.map((d) => d.usedToday)).toEqual(decisions.map((_, i) => 5 * (i + 1)));
    expect(decisions.map((d) => d.states[0]!.remaining)).toEqual(decisions.map((_, i) => 99 - i));
    // in Redis, the day's counter holds the leased events too (what other processes see) …
    const other = new Redis(REDIS_URL);
    connections.push(other);
    expect(await eventsUsedToday(other, prefix, 'client-key_day')).toBeGreaterThan(150);
    // … while the process that holds them counts only what it spent
    expect(await p.limiter.usedToday('client-key_day')).toBe(150);
    await p.limiter.close();
    expect(await eventsUsedToday(other, prefix, 'client-key_day')).toBe(150);
  });

  it('peek shows a key the tokens its own process holds as still its own', async () => {
    const prefix = `{lease-${randomUUID()}}`;
    const p = processLimiter(prefix, { ms: 60_000, share: 0.5 });
    expect(ok(await drive(p.limiter, 'key_peek', 4, 3, 2))).toBe(12);
    const seen = await p.limiter.peek({ clientId: 'client-key_peek', keyId: 'key_peek', limits: LIMITS });
    expect(seen.states[0]!.remaining).toBe(LIMITS.requestBurst - 12);
    expect(seen.states[1]!.remaining).toBe(LIMITS.eventBurst - 24);
    expect(seen.usedToday).toBe(24);
    await p.limiter.close();
  });

  it('refuses exactly at the quota, leased or not', async () => {
    const prefix = `{lease-${randomUUID()}}`;
    const p = processLimiter(prefix, { ms: 60_000, share: 1 });
    const limits = { ...LIMITS, eventsPerDay: 95 };
    const decisions = await drive(p.limiter, 'key_quota', 12, 2, 5, limits);
    expect(ok(decisions)).toBe(19);
    expect(decisions.slice(19).every((d) => d.verdict === 'quota')).toBe(true);
    await p.limiter.close();
    expect(await p.limiter.usedToday('client-key_quota')).toBe(95);
  });
});
