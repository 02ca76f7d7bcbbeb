// One request lifecycle: a Koa route and the raw routes (served without Koa)
// answer with the same request id header and body field, error body, status
// mapping, headers, request metrics, usage counts and access log line. The
// same expectations run on each; then on a route that throws, Koa's and raw
// (also outside its handler), the 500 reveals nothing but the request id.
import { Redis } from 'ioredis';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@central-logger/errors';
import {
  createLogger,
  createRegistry,
  koaLifecycle,
  listen,
  portOf,
  RequestCounters,
  RequestLifecycle,
  serveRaw,
  type Logger,
  type Registry,
} from '@central-logger/http';
import { generateKey, withChecksum } from '@central-logger/keys';
import { hourOf, SEP, usageHashKey } from '@central-logger/usage';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

/** A logger at debug (successes' access lines are debug) whose lines the test reads. */
function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: createLogger('test', 'debug', { write: (line: string) => void lines.push(JSON.parse(line)) }), lines };
}

const { log, lines } = capturingLogger();
let db: TestDatabase;
let stack: Stack;
let redis: Redis;
let agent: Tenant;
let reader: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { AUTH_FAILURE_LIMIT: '1000' }, { worker: false, log });
  redis = new Redis(REDIS_URL);
  agent = await createTenant(db.sql, 'agent', 'lc_agent');
  reader = await createTenant(db.sql, 'reader', 'lc_reader');
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

/** The same key with another secret and a valid checksum: a known prefix, a wrong key. */
const wrongSecret = (key: string) => withChecksum(key.slice(0, 17) + generateKey().key.slice(17, 17 + 43));

interface Request {
  method: 'GET' | 'POST';
  path: string;
  /** The route pattern the metrics count. */
  route: string;
  body?: string;
}

interface Route extends Request {
  name: string;
  okStatus: number;
  /** A request this route's family refuses as invalid (400), and whose key sends it. */
  invalid: Request & { by: () => Tenant };
}

// heartbeat is a plain Koa route with the same scope as the raw ingest route (logs:write)
const routes: Route[] = [
  {
    name: 'Koa: POST /api/v1/heartbeat',
    method: 'POST',
    path: '/api/v1/heartbeat',
    route: '/api/v1/heartbeat',
    body: '{}',
    okStatus: 200,
    invalid: { method: 'GET', path: '/api/v1/logs?limit=nope', route: '/api/v1/logs', by: () => reader },
  },
  {
    name: 'raw: POST /api/v1/logs',
    method: 'POST',
    path: '/api/v1/logs',
    route: '/api/v1/logs',
    body: JSON.stringify(event()),
    okStatus: 202,
    invalid: { method: 'POST', path: '/api/v1/logs', route: '/api/v1/logs', body: JSON.stringify({ environment: 'x' }), by: () => agent },
  },
];

interface Case {
  name: string;
  key: () => string | undefined;
  status: (r: Route) => number;
  error?: string;
  /** The usage field this request adds 1 to. */
  usage?: () => string;
}

const cases: Case[] = [
  { name: 'accepted', key: () => agent.key, status: (r) => r.okStatus, usage: () => `k:${agent.record.id}${SEP}requests` },
  { name: 'no key', key: () => undefined, status: () => 401, error: 'api_key_required' },
  {
    name: 'a wrong key of a known prefix',
    key: () => wrongSecret(agent.key),
    status: () => 401,
    error: 'invalid_api_key',
    usage: () => `p:${agent.record.prefix}${SEP}auth_failures`,
  },
  {
    name: 'a key without the scope',
    key: () => reader.key,
    status: () => 403,
    error: 'insufficient_scope',
    usage: () => `p:${reader.record.prefix}${SEP}rej:insufficient_scope`,
  },
  { name: 'an invalid request', key: () => undefined, status: () => 400, error: 'validation_failed' },
];

function requestsCounted(registry: Registry, method: string, route: string, status: number): Promise<number> {
  return registry
    .getSingleMetric('http_requests_total')!
    .get()
    .then((m) => m.values.find((v) => v.labels.method === method && v.labels.route === route && v.labels.status === String(status))?.value ?? 0);
}

async function usageField(field: string): Promise<number> {
  return Number((await redis.hget(usageHashKey(stack.env.QUEUE_PREFIX!, hourOf(Date.now())), field)) ?? 0);
}

describe.each(routes)('$name', (r) => {
  it.each(cases)('$name: the lifecycle answers it', async (c) => {
    const invalid = c.error === 'validation_failed';
    const req: Request = invalid ? r.invalid : r;
    const key = invalid ? r.invalid.by().key : c.key();
    const usage = invalid ? `k:${r.invalid.by().record.id}${SEP}rej:validation_failed` : c.usage?.();
    const status = c.status(r);
    const failed = status >= 400;
    const countedBefore = await requestsCounted(stack.ingest.app.registry, req.method, req.route, status);
    const usageBefore = usage ? await usageField(usage) : 0;
    const linesBefore = lines.length;

    const res = await fetch(`${stack.baseUrl}${req.path}`, {
      method: req.method,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      ...(req.body === undefined ? {} : { body: req.body }),
    });
    const body = (await res.json()) as Record<string, unknown>;

    // status mapping and the error body
    expect(res.status).toBe(status);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    if (failed) {
      expect(body.error).toBe(c.error);
      expect(typeof body.message).toBe('string');
      expect(body.request_id).toBe(requestId);
      expect(Object.keys(body).sort()).toEqual(['error', 'message', 'request_id', ...(body.details ? ['details'] : [])].sort());
      if (status === 401) expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
    }
    // the headers of every tenant answer
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // request metrics, by route pattern and final status
    expect(await requestsCounted(stack.ingest.app.registry, req.method, req.route, status)).toBe(countedBefore + 1);
    // usage, counted after the answer
    if (usage) await waitFor(async () => (await usageField(usage)) === usageBefore + 1, 5_000, `usage ${usage}`);
    // one access log line, carrying the request id (info for failures, debug for successes)
    const line = lines.slice(linesBefore).find((l) => l.msg === 'request' && l.request_id === requestId);
    expect(line).toMatchObject({ status, method: req.method, path: req.path.split('?')[0], level: failed ? 30 : 20, ...(failed ? { error: c.error } : {}) });
    expect(JSON.stringify(line)).not.toContain(agent.key);
  });
});

describe('a route that throws: Koa, raw, and raw outside its handler', () => {
  const secret = 'connection to 10.0.0.7 refused: password=hunter2';
  let registry: Registry;
  let baseUrl: string;
  const captured = capturingLogger();
  let closeServer: () => void;

  beforeAll(async () => {
    registry = createRegistry('lifecycle-test');
    const lifecycle = new RequestLifecycle({ log: captured.log, counters: new RequestCounters(registry), noStoreUnder: '/api/' });
    const koa = new Koa();
    koa.silent = true;
    koa.use(koaLifecycle(lifecycle));
    koa.use(async (ctx) => {
      if (ctx.path === '/api/koa') throw new Error(secret);
      if (ctx.path === '/api/koa-app-error') throw new AppError('rate_limited', 'Slow down', { headers: { 'Retry-After': '3' } });
    });
    const raw = serveRaw(lifecycle, { method: 'POST', path: '/api/raw' }, async (_req, res, exchange) => {
      try {
        throw new Error(secret);
      } catch (err) {
        const answer = exchange.fail(err);
        exchange.sendJson(res, answer.status, answer.body);
        exchange.finish();
      }
    });
    const outside = serveRaw(lifecycle, { method: 'POST', path: '/api/raw-outside' }, async () => {
      throw new Error(secret);
    });
    const koaListener = koa.callback();
    const server = await listen(
      (req, res) => {
        if (req.url === '/api/raw') raw(req, res);
        else if (req.url === '/api/raw-outside') outside(req, res);
        else void koaListener(req, res);
      },
      { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 },
    );
    baseUrl = `http://127.0.0.1:${portOf(server)}`;
    closeServer = () => server.close();
  });
  afterAll(() => closeServer?.());

  it.each([
    { name: 'Koa', method: 'GET', path: '/api/koa' },
    { name: 'raw', method: 'POST', path: '/api/raw' },
    { name: 'raw, thrown outside the handler (the last resort)', method: 'POST', path: '/api/raw-outside' },
  ])('$name: a bare 500 with the request id; the error is logged with it, never answered', async ({ method, path }) => {
    const linesBefore = captured.lines.length;
    const res = await fetch(`${baseUrl}${path}`, { method });
    const text = await res.text();
    expect(res.status).toBe(500);
    const requestId = res.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(JSON.parse(text)).toEqual({ error: 'internal_error', message: 'Internal server error', request_id: requestId });
    expect(text).not.toContain('hunter2');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await requestsCounted(registry, method, path === '/api/koa' ? 'unmatched' : path, 500)).toBe(1);
    const mine = captured.lines.slice(linesBefore).filter((l) => l.request_id === requestId);
    expect(mine.find((l) => l.level === 50)).toMatchObject({ err: { message: secret } });
    expect(mine.filter((l) => l.msg === 'request')).toEqual([expect.objectContaining({ status: 500, error: 'internal_error', path })]);
  });

  it('an AppError is shown as it is, with its headers, through the same lifecycle', async () => {
    const res = await fetch(`${baseUrl}/api/koa-app-error`);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await res.json()).toEqual({ error: 'rate_limited', message: 'Slow down', request_id: res.headers.get('x-request-id') });
  });
});

describe('a backing service down (the `unavailable` option): 503 with Retry-After, not 500, through Koa and raw', () => {
  let baseUrl: string;
  let closeServer: () => void;
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

  beforeAll(async () => {
    const lifecycle = new RequestLifecycle({
      log: capturingLogger().log,
      unavailable: (err) => (err as { code?: unknown }).code === 'ECONNREFUSED',
      unavailableRetryAfterS: 7,
    });
    const koa = new Koa();
    koa.silent = true;
    koa.use(koaLifecycle(lifecycle));
    koa.use(async (ctx) => {
      if (ctx.path === '/koa-down') throw refused();
      throw new Error('a bug');
    });
    const raw = serveRaw(lifecycle, { method: 'POST', path: '/raw-down' }, async () => {
      throw refused();
    });
    const koaListener = koa.callback();
    const server = await listen((req, res) => (req.url === '/raw-down' ? raw(req, res) : void koaListener(req, res)), {
      host: '127.0.0.1',
      port: 0,
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
    });
    baseUrl = `http://127.0.0.1:${portOf(server)}`;
    closeServer = () => server.close();
  });
  afterAll(() => closeServer?.());

  it.each([
    { name: 'Koa', method: 'GET', path: '/koa-down' },
    { name: 'raw', method: 'POST', path: '/raw-down' },
  ])('$name', async ({ method, path }) => {
    const res = await fetch(`${baseUrl}${path}`, { method });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toEqual({ error: 'unavailable', message: expect.stringContaining('retry later'), request_id: res.headers.get('x-request-id') });
  });

  it('any other failure is still a bare 500', async () => {
    expect((await fetch(`${baseUrl}/other`)).status).toBe(500);
  });
});
