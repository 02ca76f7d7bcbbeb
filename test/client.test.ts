// packages/client against the real service: batching, idempotent retries
// (lost answers, injected 429/503, an ingest-api killed and restarted), the
// buffer bound while the service is down, close() and the exit flush.
import { createServer, type Server } from 'node:http';
import { afterAll, assert, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type DeliveryError } from '@central-logger/client';
import { closeServer, portOf } from '@central-logger/http';
import { spawnService, startApp } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { tally } from './support/load.js';
import { freePort } from './support/private-services.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_EVENTS_PER_REQUEST: '50' });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const stored = async (clientId: string) => (await db.sql`select event_id from workflow_logs where client_id = ${clientId}`).map((r) => r.event_id as string);

/** Waits for the queue to drain, then checks the tenant's rows are exactly `ids`: none missing, none twice, none foreign. */
async function expectStoredOnce(clientId: string, ids: Array<string | undefined>): Promise<void> {
  const sent = new Set(ids.map((id) => id!));
  expect(sent.size).toBe(ids.length);
  await waitFor(async () => (await stack.drained()) && (await stored(clientId)).length >= sent.size, 15_000, 'all events stored');
  expect(await tally(db.sql, clientId, { sent, accepted: sent })).toEqual({ missing: [], duplicated: [], foreign: [], stored: sent.size });
}

/** What the proxy does with the n-th request: forward it, forward it and answer 503 instead (a lost answer), or refuse it. */
type Step = 'forward' | 'lose' | { status: 429 | 503; retryAfter: string };

/** An HTTP proxy on 127.0.0.1 in front of the ingest API that follows `plan` request by request, then forwards. */
async function faultyProxy(target: string, plan: Step[]): Promise<{ url: string; server: Server; seen: number[] }> {
  const seen: number[] = [];
  const server = createServer(async (req, res) => {
    const step = plan[seen.length] ?? 'forward';
    seen.push(Date.now());
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (typeof step === 'object') {
      const code = step.status === 429 ? 'rate_limited' : 'unavailable';
      return void res
        .writeHead(step.status, { 'content-type': 'application/json', 'retry-after': step.retryAfter })
        .end(JSON.stringify({ error: code, message: 'injected' }));
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<
      string,
      string
    >;
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
    const body = await upstream.text();
    if (step === 'lose') res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":"unavailable"}');
    else res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${portOf(server)}`, server, seen };
}

const ev = (i: number) => ({ environment: 'sdk', status: 'SUCCESS', message: `m${i}` });

describe('createLogger (packages/client)', () => {
  it('ships buffered events in batches and stores each once; close() delivers everything buffered', async () => {
    const t = await createTenant(db.sql, 'agent');
    // a long interval: only close() sends the tail
    const logger = createLogger({ url: stack.baseUrl, apiKey: t.key, batchSize: 40, flushIntervalMs: 60_000 });
    const ids = Array.from({ length: 1_001 }, (_, i) => logger.log(ev(i)));
    await logger.close();
    expect(logger.stats()).toEqual({ buffered: 0, sent: 1_001, retried: 0, dropped: 0, failed: 0 });
    await expectStoredOnce(t.clientId, ids);
  });

  it('reads LOGGER_API_URL (the full logs URL, as the seed hands it out) and LOGGER_API_KEY', async () => {
    const t = await createTenant(db.sql, 'agent');
    Object.assign(process.env, { LOGGER_API_URL: `${stack.baseUrl}/api/v1/logs`, LOGGER_API_KEY: t.key });
    try {
      const logger = createLogger();
      const ids = [logger.log(ev(1)), logger.log(ev(2))];
      await logger.close();
      await expectStoredOnce(t.clientId, ids);
    } finally {
      delete process.env.LOGGER_API_URL;
      delete process.env.LOGGER_API_KEY;
    }
  });

  it('retries a batch whose answer was lost, and the service stores it once', async () => {
    const t = await createTenant(db.sql, 'agent');
    const proxy = await faultyProxy(stack.baseUrl, ['lose', 'lose']);
    try {
      const logger = createLogger({ url: proxy.url, apiKey: t.key, retryBaseMs: 10 });
      const ids = Array.from({ length: 5 }, (_, i) => logger.log(ev(i)));
      await logger.close();
      expect(proxy.seen).toHaveLength(3);
      expect(logger.stats()).toMatchObject({ sent: 5, retried: 10 });
      await expectStoredOnce(t.clientId, ids);
    } finally {
      await closeServer(proxy.server);
    }
  });

  it('rides out a burst of 429 and 503, waiting as long as Retry-After says, with no loss and no duplicates', async () => {
    const t = await createTenant(db.sql, 'agent');
    const burst: Step[] = [
      { status: 429, retryAfter: '1' },
      { status: 503, retryAfter: '0' },
      { status: 429, retryAfter: '0' },
      'lose',
      { status: 503, retryAfter: '0' },
      { status: 503, retryAfter: '0' },
    ];
    const proxy = await faultyProxy(stack.baseUrl, burst);
    try {
      const logger = createLogger({ url: proxy.url, apiKey: t.key, batchSize: 25, concurrency: 1, retryBaseMs: 10 });
      const ids = Array.from({ length: 100 }, (_, i) => logger.log(ev(i)));
      await logger.close();
      // Retry-After: 1 beat the 10 ms backoff
      expect(proxy.seen[1]! - proxy.seen[0]!).toBeGreaterThanOrEqual(950);
      expect(proxy.seen).toHaveLength(4 + burst.length);
      expect(logger.stats()).toMatchObject({ sent: 100, dropped: 0, failed: 0 });
      await expectStoredOnce(t.clientId, ids);
    } finally {
      await closeServer(proxy.server);
    }
  });

  it('keeps delivering across an ingest-api killed (-9) and restarted on the same port, storing each event once', async () => {
    const t = await createTenant(db.sql, 'agent');
    const env = { ...stack.env, INGEST_PORT: String(await freePort()) };
    let ingest = await startApp('ingest-api', env);
    try {
      const logger = createLogger({
        url: `http://127.0.0.1:${ingest.port}`,
        apiKey: t.key,
        batchSize: 20,
        flushIntervalMs: 20,
        retryBaseMs: 50,
        retryMaxMs: 500,
        maxAttempts: 40,
      }); // a restart on a loaded machine takes seconds
      const ids: Array<string | undefined> = [];
      const logSome = async (n: number) => {
        for (let i = 0; i < n; i++) {
          ids.push(logger.log(ev(ids.length)));
          await new Promise((r) => setTimeout(r, 2));
        }
      };
      await logSome(150);
      await ingest.kill('SIGKILL');
      await logSome(150); // the service is down: these wait and retry
      ingest = await startApp('ingest-api', env);
      await logSome(150);
      await logger.close();
      expect(logger.stats()).toMatchObject({ sent: 450, dropped: 0, failed: 0 });
      expect(logger.stats().retried).toBeGreaterThan(0);
      await expectStoredOnce(t.clientId, ids);
    } finally {
      await ingest.kill('SIGKILL');
    }
  });

  it('holds at most maxBuffered events while the service is down, drops the oldest, and says so once', async () => {
    const errors: DeliveryError[] = [];
    const down = `http://127.0.0.1:${await freePort()}`;
    const logger = createLogger({
      url: down,
      apiKey: 'clk_unused',
      maxBuffered: 50,
      batchSize: 10,
      concurrency: 1,
      retryBaseMs: 20,
      onError: (e) => errors.push(e),
    });
    let most = 0;
    for (let i = 0; i < 500; i++) {
      logger.log(ev(i));
      most = Math.max(most, logger.stats().buffered);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(most).toBe(50);
    expect(logger.stats()).toMatchObject({ buffered: 50, dropped: 450, sent: 0 });
    expect(errors.map((e) => e.code)).toEqual(['buffer_full']);
    await logger.close(100);
    expect(logger.stats()).toMatchObject({ buffered: 0, dropped: 500, sent: 0 });
    expect(errors.map((e) => e.code)).toEqual(['buffer_full', 'closed', 'closed']);
  });

  it('never throws into the caller: unserializable and incomplete events go to onError, the rest of their batch is stored', async () => {
    const t = await createTenant(db.sql, 'agent');
    const errors: DeliveryError[] = [];
    const logger = createLogger({
      url: stack.baseUrl,
      apiKey: t.key,
      onError: (e) => {
        errors.push(e);
        assert.fail('onError may throw');
      },
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const ids = [logger.log(ev(1)), logger.log(ev(2))];
    expect(() => logger.log({ ...ev(3), metadata: circular })).not.toThrow();
    expect(() => logger.log({ status: 'SUCCESS' })).not.toThrow();
    logger.log({ ...ev(4), executed_at: 'yesterday' }); // only the service can say: a 400 naming this one event
    ids.push(logger.log(ev(5)));
    await logger.close();
    expect(errors.map((e) => [e.code, e.events.length])).toEqual([
      ['invalid_event', 1],
      ['invalid_event', 1],
      ['validation_failed', 1],
    ]);
    expect(logger.stats()).toMatchObject({ sent: 3, failed: 3 });
    await expectStoredOnce(t.clientId, ids);
  });

  it('splits a batch the service finds too large', async () => {
    const t = await createTenant(db.sql, 'agent');
    const logger = createLogger({ url: stack.baseUrl, apiKey: t.key, batchSize: 120 });
    const ids = Array.from({ length: 120 }, (_, i) => logger.log(ev(i)));
    await logger.close();
    await expectStoredOnce(t.clientId, ids);
  });

  it('reports a refusal it must not retry (a bad key) once, without retrying', async () => {
    const errors: DeliveryError[] = [];
    const proxy = await faultyProxy(stack.baseUrl, []);
    try {
      const logger = createLogger({ url: proxy.url, apiKey: 'clk_wrong', onError: (e) => errors.push(e) });
      logger.log(ev(1));
      logger.log(ev(2));
      await logger.close();
      expect(proxy.seen).toHaveLength(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ status: 401, code: 'invalid_api_key' });
      expect(errors[0]!.events).toHaveLength(2);
      expect(logger.stats()).toMatchObject({ sent: 0, retried: 0, failed: 2 });
    } finally {
      await closeServer(proxy.server);
    }
  });

  it('flushes on its own when the process runs out of work; says what it lost when process.exit() cuts it short', async () => {
    const t = await createTenant(db.sql, 'agent');
    const env = { LOGGER_API_URL: stack.baseUrl, LOGGER_API_KEY: t.key };
    const natural = spawnService('test/fixtures/log-and-end.ts', env, ['30']);
    await new Promise((r) => natural.child.once('exit', r));
    expect(natural.child.exitCode).toBe(0);
    await waitFor(async () => (await stored(t.clientId)).length === 30, 10_000, '30 rows');

    const cut = spawnService('test/fixtures/log-and-end.ts', env, ['7', 'exit']);
    await new Promise((r) => cut.child.once('exit', r));
    expect(cut.lines.join('\n')).toContain('the process exited before these events were sent (7 events)');
  });

  it('takes no signal unless asked; with handleSignals it delivers on SIGTERM, then lets the signal end the process', async () => {
    const before = process.listenerCount('SIGTERM');
    const quiet = createLogger({ url: stack.baseUrl, apiKey: 'clk_unused' });
    expect(process.listenerCount('SIGTERM')).toBe(before);
    await quiet.close();

    const t = await createTenant(db.sql, 'agent');
    const service = spawnService('test/fixtures/log-and-end.ts', { LOGGER_API_URL: stack.baseUrl, LOGGER_API_KEY: t.key }, ['12', 'signal']);
    await service.waitForLine(/^ready$/);
    const exited = new Promise((r) => service.child.once('exit', (_code, signal) => r(signal)));
    service.child.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    await waitFor(async () => (await stored(t.clientId)).length === 12, 10_000, '12 rows');
  });
});
