// Usage counting: real traffic through ingest-api (accepted, invalid, too large,
// unauthenticated, rate limited), rolled up by the worker's job; the totals in
// usage_hourly equal what the responses said, and re-runs never double count.
import { createServer, type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSIGHTS } from '@central-logger/alerts';
import { setLimitOverrides } from '@central-logger/limits';
import Koa from 'koa';
import { createLogger, koaLifecycle, listen, portOf, RequestLifecycle } from '@central-logger/http';
import type { Principal } from '@central-logger/keys';
import { hourOf, queryUsage, usageHashKey, UsageCounter } from '@central-logger/usage';
import { countUsage } from '../apps/ingest-api/src/middleware/usage.js';

/** The request lifecycle with usage counting into `counter`, as ingest-api has it. */
function countingInto(counter: UsageCounter) {
  const log = createLogger('test', 'silent');
  return koaLifecycle(new RequestLifecycle<Principal>({ log, usage: countUsage(counter, log) }));
}
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_EVENTS_PER_REQUEST: '20', USAGE_ROLLUP_INTERVAL_MS: '3600000', ALERT_EVAL_INTERVAL_MS: '3600000' });
  a = await createTenant(db.sql, 'agent', 'usage_a');
  b = await createTenant(db.sql, 'agent', 'usage_b');
  // b may send 2 requests at once and then hardly any more: its third is a 429
  await setLimitOverrides(db.sql, b.clientId, { requestBurst: 2, requestsPerSecond: 0.001 });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

interface Expected {
  requests: number;
  events: number;
  bytes: number;
  authFailures: number;
  rateLimited: number;
  rejected: Record<string, number>;
}
const zero = (): Expected => ({ requests: 0, events: 0, bytes: 0, authFailures: 0, rateLimited: 0, rejected: {} });

/** Sends one request and adds what its response says to `into`. */
async function send(into: Expected, key: string | undefined, body: unknown, events: number): Promise<number> {
  const text = JSON.stringify(body);
  const res = await postLogs(stack.baseUrl, key, text);
  into.requests++;
  into.bytes += Buffer.byteLength(text);
  if (res.status === 202) into.events += res.body.accepted;
  if (res.status === 401) into.authFailures++;
  if (res.status === 429) into.rateLimited++;
  // events are known once the body validated (429 and later); before that a refusal counts once
  if (res.status >= 400) into.rejected[res.body.error] = (into.rejected[res.body.error] ?? 0) + (res.status === 429 ? events : 1);
  return res.status;
}

describe('usage counting and roll-up', () => {
  it('usage_hourly totals equal what was accepted and refused, per key and per client, and a re-run does not double count', async () => {
    const ea = zero();
    const eb = zero();
    const batch = (n: number) => Array.from({ length: n }, () => event());
    expect(await send(ea, a.key, batch(2), 2)).toBe(202);
    expect(await send(ea, a.key, batch(3), 3)).toBe(202);
    expect(await send(ea, a.key, { logs: batch(5) }, 5)).toBe(202);
    expect(await send(ea, a.key, [{ environment: 'x' }], 1)).toBe(400);
    expect(await send(ea, a.key, batch(21), 21)).toBe(413);
    // a wrong secret under a's prefix counts against a's key; no key at all counts against nobody
    const wrong = `${a.key.slice(0, -10)}AAAAAAAAAA`;
    expect(await send(ea, wrong, batch(1), 1)).toBe(401);
    expect(await send(zero(), undefined, batch(1), 1)).toBe(401);
    expect(await send(eb, b.key, batch(4), 4)).toBe(202);
    expect(await send(eb, b.key, batch(1), 1)).toBe(202);
    expect(await send(eb, b.key, batch(6), 6)).toBe(429);

    await waitFor(() => stack.drained(), 10_000, 'the queue to drain');
    // the counts gather in the process for USAGE_FLUSH_MS: sent now
    await stack.ingest.app.usage.settled();
    const insights = stack.worker!.insights;
    await insights.rollUp();
    // twice more, two at once: absolute values, so nothing is counted twice
    await Promise.all([insights.rollUp(), insights.rollUp()]);

    const from = new Date(Date.now() - 3 * 3_600_000);
    const to = new Date(Date.now() + 3_600_000);
    for (const [tenant, expected] of [
      [a, ea],
      [b, eb],
    ] as const) {
      const rows = await queryUsage(db.sql, { clientId: tenant.clientId, from, to, granularity: 'day' });
      const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((s, r) => s + f(r), 0);
      const rejected: Record<string, number> = {};
      for (const r of rows) for (const [k, n] of Object.entries(r.rejected)) rejected[k] = (rejected[k] ?? 0) + n;
      expect({
        requests: sum((r) => r.requests),
        events: sum((r) => r.eventsAccepted),
        bytes: sum((r) => r.bytes),
        authFailures: sum((r) => r.authFailures),
        rateLimited: sum((r) => r.rateLimited),
        rejected,
      }).toEqual(expected);
      // and the events counted as accepted are the events stored
      const [{ n }] = (await db.sql`select count(*)::int as n from workflow_logs where client_id = ${tenant.clientId}`) as unknown as [{ n: number }];
      expect(n).toBe(expected.events);
    }
    // per key, hourly: the same figures under the key's id
    const perKey = await queryUsage(db.sql, { keyId: a.record.id, from, to, granularity: 'hour' });
    expect(perKey.reduce((s, r) => s + r.requests, 0)).toBe(ea.requests);
    expect(perKey.every((r) => r.keyId === a.record.id && r.clientId === a.clientId)).toBe(true);
  });

  it('counts the bytes a body took on the wire, also when it came chunked without a Content-Length, and gzip as sent', async () => {
    const t = await createTenant(db.sql, 'agent', 'usage_wire');
    /** POSTs `body` in two chunks (Transfer-Encoding: chunked, no Content-Length). */
    const chunked = async (body: Buffer, headers: Record<string, string> = {}) => {
      const half = Math.floor(body.length / 2);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(body.subarray(0, half));
          c.enqueue(body.subarray(half));
          c.close();
        },
      });
      const res = await fetch(`${stack.baseUrl}/api/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': t.key, ...headers },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.headers.get('x-request-id')).toBeTruthy();
      return res.status;
    };
    const plain = Buffer.from(JSON.stringify([event(), event()]));
    const zipped = gzipSync(Buffer.from(JSON.stringify([event(), event(), event()])));
    expect(await chunked(plain)).toBe(202);
    expect(await chunked(zipped, { 'content-encoding': 'gzip' })).toBe(202);
    const expected = { requests: 2, events: 5, bytes: plain.length + zipped.length };
    const totals = async () => {
      await stack.worker!.insights.rollUp();
      const [row] =
        await db.sql`select sum(requests)::int as requests, sum(events_accepted)::int as events, sum(bytes)::int as bytes from usage_hourly where client_id = ${t.clientId}`;
      return row;
    };
    await waitFor(async () => (await totals())?.requests === 2, 5_000, 'both requests to be counted');
    expect(await totals()).toEqual(expected);
  });

  it('records the addresses a key is used from (no database write per request)', async () => {
    await stack.ingest.app.usage.settled();
    await stack.worker!.insights.rollUp();
    const rows = await db.sql`select address from key_addresses where key_id = ${a.record.id}`;
    expect(rows.map((r) => r.address)).toEqual(['127.0.0.1']);
  });

  it('the worker runs the roll-up and the alert rules on BullMQ job schedulers, one schedule each, at the configured intervals', async () => {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(INSIGHTS.queue, { connection, prefix: stack.env.QUEUE_PREFIX });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => [s.key, s.every]).sort()).toEqual([
        [INSIGHTS.alertsScheduler, 3_600_000],
        [INSIGHTS.rollupScheduler, 3_600_000],
      ]);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('counts every /api/v1 request, reads and heartbeats too, in an hour hash that expires', async () => {
    const owner = await createTenant(db.sql, 'owner', 'usage_c');
    const beat = await fetch(`${stack.baseUrl}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': owner.key } });
    expect(beat.status).toBe(200);
    const keys = await fetch(`${stack.baseUrl}/api/v1/keys`, { headers: { 'x-api-key': owner.key } });
    expect(keys.status).toBe(200);
    const health = await fetch(`${stack.baseUrl}/health`, { headers: { 'x-api-key': owner.key } });
    expect(health.status).toBe(200);
    await stack.ingest.app.usage.settled();
    await stack.worker!.insights.rollUp();
    const [row] = await db.sql`select requests, events_accepted from usage_hourly where key_id = ${owner.record.id}`;
    expect(row).toEqual({ requests: '2', events_accepted: '0' });
    const redis = new Redis(REDIS_URL);
    try {
      const ttl = await redis.ttl(usageHashKey(stack.env.QUEUE_PREFIX!, hourOf(Date.now())));
      expect(ttl).toBeGreaterThan(47 * 3600);
    } finally {
      redis.disconnect();
    }
  });

  it('a counting failure never changes the answer', async () => {
    // nothing listens on port 1: every command fails at once
    const broken = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    broken.on('error', () => {});
    const app = new Koa();
    app.use(countingInto(new UsageCounter(broken, '{never}')));
    app.use((ctx) => {
      ctx.state.principal = { keyId: 'key_x', prefix: 'clk_x', role: 'agent', clientId: 'c' };
      ctx.status = 202;
      ctx.body = { accepted: 1, ids: ['evt_x'] };
    });
    const server = await listen(app, { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 });
    try {
      const res = await fetch(`http://127.0.0.1:${portOf(server)}/api/v1/logs`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ accepted: 1, ids: ['evt_x'] });
    } finally {
      server.close();
      broken.disconnect();
    }
  });

  it('the answer never waits for counting: a Redis that never replies holds back no response', async () => {
    // a server that accepts the connection and never answers a command
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const hung = new Redis((silent.address() as AddressInfo).port, '127.0.0.1', {
      enableReadyCheck: false,
      maxRetriesPerRequest: null,
      retryStrategy: () => null,
    });
    hung.on('error', () => {});
    const counter = new UsageCounter(hung, '{never}');
    const app = new Koa();
    app.use(countingInto(counter));
    app.use((ctx) => {
      ctx.state.principal = { keyId: 'key_x', prefix: 'clk_x', role: 'agent', clientId: 'c' };
      ctx.status = 202;
      ctx.body = { accepted: 1, ids: ['evt_x'] };
    });
    const server = await listen(app, { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 });
    try {
      const res = await fetch(`http://127.0.0.1:${portOf(server)}/api/v1/logs`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000) });
      expect(res.status).toBe(202);
      // and the count was sent, just never confirmed
      let settled = false;
      void counter
        .record({ subject: { keyId: 'key_x' }, bytes: 0, eventsAccepted: 0, authFailure: false, rateLimited: false })
        .finally(() => (settled = true))
        .catch(() => {}); // rejected once the connection closes, after the check
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toBe(false);
    } finally {
      server.close();
      hung.disconnect();
      silent.close();
    }
  });

  it('two ingest processes count into the same hours: concurrent traffic through both adds up exactly', async () => {
    const other = await startStack(db, { ...stack.env }, { worker: false });
    try {
      const t = await createTenant(db.sql, 'agent', 'usage_d');
      const statuses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          postLogs(
            i % 2 ? other.baseUrl : stack.baseUrl,
            t.key,
            Array.from({ length: 1 + (i % 3) }, () => event()),
          ).then((r) => r.status),
        ),
      );
      expect(statuses.every((s) => s === 202)).toBe(true);
      await waitFor(() => stack.drained(), 10_000, 'the queue to drain');
      await Promise.all([stack.ingest.app.usage.settled(), other.ingest.app.usage.settled()]);
      await stack.worker!.insights.rollUp();
      const [row] = await db.sql`select sum(requests)::int as requests, sum(events_accepted)::int as events from usage_hourly where client_id = ${t.clientId}`;
      const [stored] = await db.sql`select count(*)::int as n from workflow_logs where client_id = ${t.clientId}`;
      expect(row).toEqual({ requests: 40, events: stored!.n });
      expect(stored!.n).toBe(Array.from({ length: 40 }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0));
    } finally {
      await other.ingest.close();
      await other.queue.close();
    }
  });
});

describe('UsageCounter', () => {
  it('sends the requests of one event-loop turn in one script call, merged per field, with exact totals', async () => {
    const redis = new Redis(REDIS_URL);
    const prefix = `{ucount${Date.now()}}`;
    let calls = 0;
    const counted = Object.assign(Object.create(redis) as Redis, {
      sendCommand: (command: { name: string }) => {
        if (command.name === 'evalsha') calls++;
        return redis.sendCommand(command as never);
      },
    });
    try {
      const counter = new UsageCounter(counted, prefix);
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          counter.record({ subject: { keyId: 'key_a' }, address: '10.0.0.1', bytes: 10, eventsAccepted: i % 2, authFailure: false, rateLimited: i === 0 }),
        ),
      );
      expect(calls).toBe(1);
      await counter.record({
        subject: { prefix: 'clk_x' },
        bytes: 0,
        eventsAccepted: 0,
        authFailure: true,
        rateLimited: false,
        rejected: { reason: 'invalid_api_key', events: 1 },
      });
      expect(calls).toBe(2);
      const hash = await redis.hgetall(usageHashKey(prefix, hourOf(Date.now())));
      expect(hash).toEqual({
        'k:key_a\trequests': '50',
        'k:key_a\tbytes': '500',
        'k:key_a\tevents': '25',
        'k:key_a\trate_limited': '1',
        'a:key_a\t10.0.0.1': '50',
        'p:clk_x\trequests': '1',
        'p:clk_x\tauth_failures': '1',
        'p:clk_x\trej:invalid_api_key': '1',
      });
      expect(await redis.ttl(usageHashKey(prefix, hourOf(Date.now())))).toBeGreaterThan(0);
    } finally {
      await redis.del(usageHashKey(prefix, hourOf(Date.now())));
      redis.disconnect();
    }
  });
  it('with a flush interval, gathers the counts of many turns into one script call, and settled() sends them at once', async () => {
    const redis = new Redis(REDIS_URL);
    const prefix = `{uflush${Date.now()}}`;
    let calls = 0;
    const counted = Object.assign(Object.create(redis) as Redis, {
      sendCommand: (command: { name: string }) => {
        if (command.name === 'evalsha' || command.name === 'eval') calls++;
        return redis.sendCommand(command as never);
      },
    });
    try {
      const counter = new UsageCounter(counted, prefix, Date.now, 60_000);
      const recorded: Array<Promise<void>> = [];
      for (let turn = 0; turn < 5; turn++) {
        recorded.push(counter.record({ subject: { keyId: 'key_f' }, bytes: 7, eventsAccepted: 2, authFailure: false, rateLimited: false }));
        await new Promise((r) => setImmediate(r));
      }
      // five turns later, nothing sent yet
      expect(calls).toBe(0);
      await counter.settled();
      await Promise.all(recorded);
      expect(calls).toBe(1);
      expect(await redis.hgetall(usageHashKey(prefix, hourOf(Date.now())))).toEqual({
        'k:key_f\trequests': '5',
        'k:key_f\tbytes': '35',
        'k:key_f\tevents': '10',
      });
    } finally {
      await redis.del(usageHashKey(prefix, hourOf(Date.now())));
      redis.disconnect();
    }
  });
});
