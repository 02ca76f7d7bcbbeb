import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestSchema, loadConfig } from '@central-logger/config';
import { portOf } from '@central-logger/http';
import { Redis } from 'ioredis';
import { listQuotaWarnings, RateLimiter, setLimitOverrides } from '@central-logger/limits';
import { createKey } from '@central-logger/keys';
import { startIngestApi } from '../apps/ingest-api/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';
import { startPrivateRedis } from './support/private-services.js';

let db: TestDatabase;
let stack: Stack;

// slow refill, so a test's requests cannot earn new tokens while it runs
const LIMITS = {
  RATE_KEY_REQUESTS_PER_SECOND: '0.01',
  RATE_KEY_REQUEST_BURST: '10',
  RATE_KEY_EVENTS_PER_SECOND: '0.01',
  RATE_KEY_EVENT_BURST: '50',
  RATE_TENANT_EVENTS_PER_DAY: '1000',
  LIMITS_CACHE_TTL_MS: '300',
};

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, LIMITS, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const batch = (n: number) => Array.from({ length: n }, () => event());

function rateHeaders(res: { headers: Headers }) {
  return {
    limit: Number(res.headers.get('ratelimit-limit')),
    remaining: Number(res.headers.get('ratelimit-remaining')),
    reset: Number(res.headers.get('ratelimit-reset')),
  };
}

describe('per-key rate limits', () => {
  it('429 rate_limited with Retry-After once a key has spent its request burst', async () => {
    const t = await createTenant(db.sql, 'agent');
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await postLogs(stack.baseUrl, t.key, event()));
    expect(answers.map((r) => r.status)).toEqual([...Array(10).fill(202), 429, 429]);
    const refused = answers[10]!;
    expect(refused.body.error).toBe('rate_limited');
    expect(refused.body.message).toMatch(/0\.01 requests per second/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(rateHeaders(refused)).toMatchObject({ limit: 10, remaining: 0 });
    expect(rateHeaders(refused).reset).toBeGreaterThan(0);
  });

  it('limits events per key with burst, and the limits are per key', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, t.key, batch(30))).status).toBe(202);
    const over = await postLogs(stack.baseUrl, t.key, batch(30));
    expect(over.status).toBe(429);
    expect(over.body.message).toMatch(/events per second/);
    expect(rateHeaders(over)).toMatchObject({ limit: 50, remaining: 20 });
    expect((await postLogs(stack.baseUrl, t.key, batch(20))).status).toBe(202);
    const other = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, other.key, batch(30))).status).toBe(202);
  });

  it('sends RateLimit-* on every ingest response after authentication: 202, 400, 413', async () => {
    const t = await createTenant(db.sql, 'agent');
    const ok = await postLogs(stack.baseUrl, t.key, batch(5));
    expect(ok.status).toBe(202);
    // the limit with the smallest share left is reported; on a tie, the request bucket
    expect(rateHeaders(ok)).toMatchObject({ limit: 10, remaining: 9 });
    const bad = await postLogs(stack.baseUrl, t.key, { environment: 'x' });
    expect(bad.status).toBe(400);
    expect(rateHeaders(bad)).toMatchObject({ limit: 10, remaining: 8 });
    const huge = await postLogs(stack.baseUrl, t.key, [event({ message: 'x'.repeat(2_000_000) })]);
    expect(huge.status).toBe(413);
    expect(huge.headers.get('ratelimit-remaining')).toBe('7');
    // before authentication there is no key to count against
    expect((await postLogs(stack.baseUrl, undefined, event())).headers.get('ratelimit-limit')).toBeNull();
  });

  it('is atomic across processes: two ingest-api processes share one bucket', async () => {
    const second = await startIngestApi(loadConfig(ingestSchema, stack.env));
    try {
      const t = await createTenant(db.sql, 'agent');
      const urls = [stack.baseUrl, `http://127.0.0.1:${portOf(second.server)}`];
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => postLogs(urls[i % 2]!, t.key, event())));
      expect(answers.filter((r) => r.status === 202)).toHaveLength(10);
      expect(answers.filter((r) => r.status === 429)).toHaveLength(20);
    } finally {
      await second.close();
    }
  });
});

describe('per-tenant daily quota', () => {
  it('refuses events past the quota with 429 and records the 80% and 100% warnings once each', async () => {
    const t = await createTenant(db.sql, 'agent');
    await setLimitOverrides(db.sql, t.clientId, { eventsPerDay: 100, eventBurst: 1000 });
    expect((await postLogs(stack.baseUrl, t.key, batch(79))).status).toBe(202);
    expect(await listQuotaWarnings(db.sql, t.clientId)).toEqual([]);
    expect((await postLogs(stack.baseUrl, t.key, batch(1))).status).toBe(202);
    expect((await postLogs(stack.baseUrl, t.key, batch(5))).status).toBe(202);
    await waitFor(async () => (await listQuotaWarnings(db.sql, t.clientId)).length === 1, 5_000, '80% warning');
    const over = await postLogs(stack.baseUrl, t.key, batch(16));
    expect(over.status).toBe(429);
    expect(over.body.message).toMatch(/at most 100 events per day/);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(rateHeaders(over)).toMatchObject({ limit: 100, remaining: 15 });
    expect((await postLogs(stack.baseUrl, t.key, batch(15))).status).toBe(202);
    expect((await postLogs(stack.baseUrl, t.key, batch(1))).status).toBe(429);
    const warnings = await waitFor(
      async () => {
        const w = await listQuotaWarnings(db.sql, t.clientId);
        return w.length === 2 && w;
      },
      5_000,
      '100% warning',
    );
    expect(warnings.map((w) => [w.threshold, w.eventsPerDay])).toEqual([
      [100, 100],
      [80, 100],
    ]);
    expect(warnings[1]!.eventsUsed).toBe(80);
  });

  it("limits a tenant's events per second across all its keys: more keys are not more capacity", async () => {
    const own = await startStack(
      db,
      { ...LIMITS, RATE_KEY_EVENT_BURST: '500', RATE_TENANT_EVENTS_PER_SECOND: '0.01', RATE_TENANT_EVENT_BURST: '600' },
      { worker: false },
    );
    try {
      const t = await createTenant(db.sql, 'agent', 'many');
      const second = await createKey(db.sql, { name: 'k2', role: 'agent', clientId: t.clientId, bcryptCost: 4 });
      const third = await createKey(db.sql, { name: 'k3', role: 'agent', clientId: t.clientId, bcryptCost: 4 });
      // one key at its own limit (500) is within the tenant's (600): not cut
      expect((await postLogs(own.baseUrl, t.key, batch(500))).status).toBe(202);
      // its other keys share the tenant's remaining 100
      expect((await postLogs(own.baseUrl, second.key, batch(100))).status).toBe(202);
      const over = await postLogs(own.baseUrl, third.key, batch(1));
      expect(over.status).toBe(429);
      expect(over.body).toMatchObject({
        error: 'rate_limited',
        message: 'Rate limit exceeded: at most 0.01 events per second per client, across all its keys',
      });
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(rateHeaders(over)).toMatchObject({ limit: 600, remaining: 0 });
      // another tenant is not touched
      const other = await createTenant(db.sql, 'agent', 'other');
      expect((await postLogs(own.baseUrl, other.key, batch(500))).status).toBe(202);
    } finally {
      await own.close();
    }
  });

  it('takes a per-client override from the database without a restart', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, t.key, batch(40))).status).toBe(202);
    expect((await postLogs(stack.baseUrl, t.key, batch(40))).status).toBe(429);
    await setLimitOverrides(db.sql, t.clientId, { eventBurst: 10_000, eventsPerSecond: 1000 });
    await waitFor(async () => (await postLogs(stack.baseUrl, t.key, batch(40))).status === 202, 5_000, 'override to apply');
  });
});

/** A RateLimiter of its own (own key prefix) on a connection of its own, for the duration of `fn`. */
async function withLimiter(name: string, fn: (limiter: RateLimiter) => Promise<void>): Promise<void> {
  const redis = new Redis(stack.env.REDIS_URL!);
  try {
    await fn(new RateLimiter(redis, `${stack.env.QUEUE_PREFIX}:${name}`));
  } finally {
    redis.disconnect();
  }
}

describe('RateLimiter', () => {
  it("counts exactly when many requests of one event-loop turn share script calls, also past one call's batch of 100", () =>
    withLimiter('batch', async (limiter) => {
      const limits = {
        requestsPerSecond: 0.01,
        requestBurst: 200,
        eventsPerSecond: 0.01,
        eventBurst: 1000,
        tenantEventsPerSecond: 0.01,
        tenantEventBurst: 1000,
        eventsPerDay: 1e9,
      };
      const decisions = await Promise.all(
        Array.from({ length: 250 }, (_, i) => limiter.take({ clientId: 'batch-client', keyId: `key_${i % 2}`, events: 1, limits })),
      );
      // two keys, each with a burst of 200: all 250 fit
      expect(decisions.every((d) => d.verdict === 'ok')).toBe(true);
      const more = await Promise.all(Array.from({ length: 200 }, () => limiter.take({ clientId: 'batch-client', keyId: 'key_0', events: 1, limits })));
      expect(more.filter((d) => d.verdict === 'ok')).toHaveLength(75);
      expect(more.filter((d) => d.verdict === 'requests')).toHaveLength(125);
    }));

  it('takes the requests of one key in one call in order, and two keys of a client share its quota exactly', () =>
    withLimiter('grouped', async (limiter) => {
      const limits = {
        requestsPerSecond: 0.01,
        requestBurst: 1100,
        eventsPerSecond: 0.01,
        eventBurst: 100_000,
        tenantEventsPerSecond: 0.01,
        tenantEventBurst: 1000,
        eventsPerDay: 150,
      };
      const decisions = await Promise.all(
        Array.from({ length: 80 }, (_, i) => limiter.take({ clientId: 'grouped-client', keyId: `key_${i % 2}`, events: 2, limits })),
      );
      expect(decisions.filter((d) => d.verdict === 'ok')).toHaveLength(75);
      expect(decisions.filter((d) => d.verdict === 'quota')).toHaveLength(5);
      for (const k of [0, 1]) {
        // within a key, arrival order: requests taken one after another, then refused
        const ofKey = decisions.filter((_, i) => i % 2 === k);
        const taken = ofKey.filter((d) => d.verdict === 'ok');
        expect(ofKey.slice(0, taken.length)).toEqual(taken);
        expect(taken.map((d) => d.states[0]!.remaining)).toEqual(taken.map((_, j) => 1099 - j));
      }
      expect(await limiter.usedToday('grouped-client')).toBe(150);
      // one key's requests past a group's 1,000 in one turn: counted exactly too
      const many = await Promise.all(Array.from({ length: 1200 }, () => limiter.take({ clientId: 'grouped-many', keyId: 'key_many', events: 0, limits })));
      expect(many.filter((d) => d.verdict === 'ok')).toHaveLength(1100);
      expect(many.slice(1100).every((d) => d.verdict === 'requests')).toBe(true);
    }));

  it("sends the requests of one event-loop turn in one script call, and reads and writes a key's buckets once per call however many of its requests it holds", async () => {
    // a Redis of its own: MONITOR on the shared one also streams every other test file's commands
    const own = await startPrivateRedis();
    const redis = new Redis(own.url);
    const monitor = await redis.monitor();
    const prefix = `${stack.env.QUEUE_PREFIX}:calls`;
    let scriptCalls = 0;
    const counted = Object.assign(Object.create(redis) as Redis, {
      sendCommand: (command: { name: string }) => {
        scriptCalls += Number(command.name === 'evalsha');
        return redis.sendCommand(command as never);
      },
    });
    // what the script did to this limiter's keys, command by command
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1]?.startsWith(prefix)) seen.push(`${args[0]!.toLowerCase()} ${args[1].slice(prefix.length + 1)}`);
    });
    try {
      const limiter = new RateLimiter(counted, prefix);
      const limits = {
        requestsPerSecond: 0.01,
        requestBurst: 100,
        eventsPerSecond: 0.01,
        eventBurst: 10_000,
        tenantEventsPerSecond: 0.01,
        tenantEventBurst: 1000,
        eventsPerDay: 1e9,
      };
      const decisions = await Promise.all(
        Array.from({ length: 80 }, (_, i) => limiter.take({ clientId: 'calls-client', keyId: `key_${i % 2}`, events: 1, limits })),
      );
      expect(decisions.every((d) => d.verdict === 'ok')).toBe(true);
      expect(scriptCalls).toBe(1);
      // a marker after the script: once the monitor shows it, it has shown everything the script did
      await redis.get(`${prefix}:end`);
      await waitFor(async () => seen.includes('get end'), 5_000, 'the monitor to show the marker');
      const count = (command: string) => seen.filter((s) => s === command).length;
      for (const key of ['key_0', 'key_1']) {
        expect(count(`hmget rl:k:${key}`)).toBe(1);
        expect(count(`hset rl:k:${key}`)).toBe(1);
      }
      // the client's day counter: read and added to once per group (per key), not per request
      const day = seen.find((s) => s.startsWith('incrby rl:d:calls-client:'))!.split(' ')[1]!;
      expect(count(`get ${day}`)).toBe(2);
      expect(count(`incrby ${day}`)).toBe(2);
      expect(await limiter.usedToday('calls-client')).toBe(80);

      // 250 keys in one turn: calls of at most 100 keys each, so no one script holds Redis long
      scriptCalls = 0;
      await Promise.all(Array.from({ length: 250 }, (_, i) => limiter.take({ clientId: 'calls-many', keyId: `many_${i}`, events: 1, limits })));
      expect(scriptCalls).toBe(3);
    } finally {
      monitor.disconnect();
      redis.disconnect();
      await own.destroy();
    }
  });

  it('peek shows the state of the limits without taking from them', () =>
    withLimiter('peek', async (limiter) => {
      const limits = {
        requestsPerSecond: 0.01,
        requestBurst: 3,
        eventsPerSecond: 0.01,
        eventBurst: 30,
        tenantEventsPerSecond: 0.01,
        tenantEventBurst: 1000,
        eventsPerDay: 100,
      };
      const req = { clientId: 'peek-client', keyId: 'key_peek', limits };
      expect((await limiter.take({ ...req, events: 10 })).verdict).toBe('ok');
      for (let i = 0; i < 3; i++) {
        const seen = await limiter.peek(req);
        expect(seen.states.map((s) => s.remaining)).toEqual([2, 20, 990, 90]);
        expect(seen.usedToday).toBe(10);
      }
    }));
});
