import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestSchema, loadConfig } from '@central-logger/config';
import { createLogger, listen, closeServer, portOf } from '@central-logger/http';
import { generateKey, KeyVerifier } from '@central-logger/keys';
import { LogsProducer, producerConnection } from '@central-logger/queue';
import { createIngestApp } from '../apps/ingest-api/src/app.js';
import { CursorCodec } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, testEnv, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let tenant: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(
    db,
    { MAX_BODY_BYTES: '20000', MAX_DECOMPRESSED_BYTES: '60000', MAX_EVENTS_PER_REQUEST: '50', MAX_EVENT_BYTES: '8000', MAX_METADATA_DEPTH: '5' },
    { worker: false },
  );
  tenant = await createTenant(db.sql, 'agent');
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

function expectError(res: { status: number; body: any }, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body.error).toBe(code);
  expect(typeof res.body.message).toBe('string');
  expect(res.body.request_id).toMatch(/^req_/);
}

describe('authentication errors', () => {
  it('401 api_key_required with WWW-Authenticate when no key is sent', async () => {
    const res = await postLogs(stack.baseUrl, undefined, event());
    expectError(res, 401, 'api_key_required');
    expect(res.body.message).toBe('API key required');
    expect(res.headers.get('www-authenticate')).toMatch(/Bearer/);
  });

  it.each([
    ['garbage', 'not-a-key'],
    ['a key with a broken checksum', (k: string) => k.slice(0, -1) + (k.endsWith('A') ? 'B' : 'A')],
    ['a well-formed key nobody issued', () => generateKey().key],
    [
      'a known prefix with the wrong secret',
      (k: string) => {
        const forged = generateKey().key;
        return k.slice(0, 17) + forged.slice(17);
      },
    ],
  ])('401 invalid_api_key for %s', async (_label, make) => {
    const key = typeof make === 'string' ? make : make(tenant.key);
    const res = await postLogs(stack.baseUrl, key, event());
    expectError(res, 401, 'invalid_api_key');
    expect(res.body.message).toBe('Invalid API key');
    expect(res.headers.get('www-authenticate')).toBeTruthy();
    expect(JSON.stringify(res.body)).not.toContain(key);
  });

  it('accepts the key as X-API-Key, "X-API-Key: ApiKey <key>" and Authorization: Bearer', async () => {
    const forms: Array<Record<string, string>> = [
      { 'x-api-key': tenant.key },
      { 'x-api-key': `ApiKey ${tenant.key}` },
      { authorization: `Bearer ${tenant.key}` },
    ];
    for (const headers of forms) expect((await postLogs(stack.baseUrl, undefined, event(), headers)).status).toBe(202);
  });

  it('403 insufficient_scope for a reader key', async () => {
    const reader = await createTenant(db.sql, 'reader');
    expectError(await postLogs(stack.baseUrl, reader.key, event()), 403, 'insufficient_scope');
  });
});

describe('body errors', () => {
  it('400 validation_failed names each event index and field, and accepts nothing', async () => {
    const before = await stack.queue.getJobCounts('waiting');
    const res = await postLogs(stack.baseUrl, tenant.key, [event(), { environment: 'x', status: 'OK' }, event({ executed_at: 'yesterday', level: 'loud' })]);
    expectError(res, 400, 'validation_failed');
    const fields = res.body.details.map((d: any) => `${d.index}:${d.field}`);
    expect(fields).toEqual(expect.arrayContaining(['1:executed_at', '2:executed_at', '2:level']));
    expect(fields.some((f: string) => f.startsWith('0:'))).toBe(false);
    expect(await stack.queue.getJobCounts('waiting')).toEqual(before);
  });

  it.each([
    ['invalid JSON', '{"environment": '],
    ['an empty array', '[]'],
    ['a scalar body', '42'],
    ['"logs" that is not an array', '{"logs": {}}'],
    ['a NUL character in a string', JSON.stringify(event({ message: 'a\u0000b' }))],
    ['a NUL character in a metadata key', JSON.stringify(event({ metadata: { 'k\u0000': 1 } }))],
    ['a lone surrogate', '{"environment":"x","executed_at":"2026-01-01T00:00:00Z","status":"OK","message":"\\ud800"}'],
    ['an event too far in the future', JSON.stringify(event({ executed_at: new Date(Date.now() + 3 * 86_400_000).toISOString() }))],
  ])('400 validation_failed for %s', async (_label, body) => {
    expectError(await postLogs(stack.baseUrl, tenant.key, body), 400, 'validation_failed');
  });

  it('400 for invalid UTF-8 and for a body that is not gzip despite Content-Encoding', async () => {
    const bad = Buffer.concat([Buffer.from('{"environment":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expectError(await postLogs(stack.baseUrl, tenant.key, bad), 400, 'validation_failed');
    expectError(await postLogs(stack.baseUrl, tenant.key, 'plain', { 'content-encoding': 'gzip' }), 400, 'validation_failed');
  });

  it.each([
    ['form bodies', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['text/plain', { 'content-type': 'text/plain' }],
    ['a non-utf-8 charset', { 'content-type': 'application/json; charset=latin1' }],
    ['brotli', { 'content-encoding': 'br' }],
  ])('415 unsupported_media_type for %s', async (_label, headers) => {
    expectError(await postLogs(stack.baseUrl, tenant.key, event(), headers), 415, 'unsupported_media_type');
  });

  it('413 payload_too_large, with the limit in the message, for each limit', async () => {
    const big = await postLogs(stack.baseUrl, tenant.key, [event({ message: 'x'.repeat(25_000) })]);
    expectError(big, 413, 'payload_too_large');
    expect(big.body.message).toContain('20000');

    // 100 kB of zeros gzip to a few hundred bytes: the wire limit passes, the decompressed limit stops it
    const bomb = gzipSync(JSON.stringify([event({ message: '0'.repeat(100_000) })]));
    expect(bomb.length).toBeLessThan(20_000);
    const inflated = await postLogs(stack.baseUrl, tenant.key, bomb, { 'content-encoding': 'gzip' });
    expectError(inflated, 413, 'payload_too_large');
    expect(inflated.body.message).toContain('60000');

    const many = await postLogs(
      stack.baseUrl,
      tenant.key,
      Array.from({ length: 51 }, () => ({ environment: 'e', executed_at: '2026-01-01T00:00:00Z', status: 'S' })),
    );
    expectError(many, 413, 'payload_too_large');
    expect(many.body.message).toContain('50');

    const fat = await postLogs(stack.baseUrl, tenant.key, event({ message: 'y'.repeat(9_000) }));
    expectError(fat, 413, 'payload_too_large');
    expect(fat.body.message).toContain('8000');
  });

  it('404 JSON for an unknown route', async () => {
    const res = await fetch(`${stack.baseUrl}/api/v1/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('not_found');
  });
});

describe('queue unavailable', () => {
  it('503 unavailable with Retry-After, never 202, when Redis cannot take the job', async () => {
    const env = testEnv(db, { REDIS_URL: 'redis://127.0.0.1:1' });
    const config = loadConfig(ingestSchema, env);
    const redis = producerConnection(config.REDIS_URL);
    redis.on('error', () => {});
    const producer = new LogsProducer(redis, config.QUEUE_PREFIX, { attempts: 1, backoffMs: 100, timeoutMs: 1_000 });
    producer.queue.on('error', () => {});
    const app = createIngestApp({
      config,
      sql: db.sql,
      redis,
      producer,
      verifier: new KeyVerifier(db.sql),
      reads: { readSql: db.sql, cursors: new CursorCodec('a test secret of some length') },
      log: createLogger('test', 'silent'),
    });
    const server = await listen(app.listener, { host: '127.0.0.1', port: 0, requestTimeoutMs: 5_000, headersTimeoutMs: 5_000 });
    try {
      const started = Date.now();
      const res = await postLogs(`http://127.0.0.1:${portOf(server)}`, tenant.key, event());
      expectError(res, 503, 'unavailable');
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(Date.now() - started).toBeLessThan(3_000);
      const ready = await fetch(`http://127.0.0.1:${portOf(server)}/ready`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: unknown }).checks).toEqual({ postgres: 'ok', redis: 'unreachable' });
    } finally {
      await closeServer(server);
      await producer.close().catch(() => {});
      redis.disconnect();
    }
  });
});
