// Failed authentication is watched: every failure is recorded (in batches,
// not per request) and an address that fails too often is answered 429 with
// Retry-After, counted in Redis so that every ingest-api process agrees.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { bcryptCalls, FailureLimiter, generateKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { heartbeat } from './support/keys.js';
import { createTenant, deleteRedisKeys, startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
let a: Stack;
let b: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  // two ingest-api instances sharing one Redis namespace, as two processes of one deployment would
  a = await startStack(db, { AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW_SECONDS: '2', AUTH_FAILURE_FLUSH_MS: '60000' }, { worker: false });
  b = await startStack(db, { ...a.env, AUTH_FAILURE_FLUSH_MS: '60000' }, { worker: false });
});
// each test starts with a fresh count for 127.0.0.1 (tests run in order; local blocks have lapsed by then)
beforeEach(async () => {
  await deleteRedisKeys(a.env.QUEUE_PREFIX!);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

async function failures() {
  return db.sql`select address, key_prefix, reason, occurred_at from auth_failures order by id`;
}

describe('recording', () => {
  it('buffers failures in memory and writes them in one batch: address, prefix if any, reason, time', async () => {
    await db.sql`delete from auth_failures`;
    const t = await createTenant(db.sql, 'agent');
    const unknown = generateKey();
    const address = { 'x-forwarded-for': '203.0.113.9' }; // ignored: TRUST_PROXY is off
    await heartbeat(a.baseUrl, undefined, address);
    await heartbeat(a.baseUrl, unknown.key);
    await heartbeat(a.baseUrl, t.key.slice(0, -1) + (t.key.endsWith('A') ? 'B' : 'A'));
    await heartbeat(a.baseUrl, 'not a key');
    expect(await failures()).toHaveLength(0);
    expect(a.ingest.verifier.failures.pending).toBe(4);
    await a.ingest.verifier.failures.flush();
    const rows = await failures();
    expect(rows.map((r) => [r.reason, r.key_prefix])).toEqual([
      ['api_key_required', null],
      ['unknown_key', unknown.prefix],
      ['malformed_key', t.record.prefix],
      ['malformed_key', null],
    ]);
    for (const r of rows) {
      expect(r.address).toMatch(/127\.0\.0\.1/);
      expect(Date.now() - (r.occurred_at as Date).getTime()).toBeLessThan(60_000);
    }
    expect(JSON.stringify(rows)).not.toContain(t.key);
    expect(JSON.stringify(rows)).not.toContain(unknown.key);
  });
});

describe('per-address limit', () => {
  it('answers 429 with Retry-After and RateLimit-* past the threshold, counted across processes, and lifts after the window', async () => {
    // the window is 2 s: start at its beginning so it cannot end mid-test
    const key = generateKey().key;
    for (let i = 0; i < 3; i++) expect((await heartbeat(a.baseUrl, key)).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await heartbeat(b.baseUrl, key)).status).toBe(401);
    // the 6th failure from this address, on either process, is over the limit of 5
    const limited = await heartbeat(b.baseUrl, key);
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(2);
    // and the RateLimit-* headers of the limit that refused: 5 failures, none left until it resets
    expect([limited.headers.get('ratelimit-limit'), limited.headers.get('ratelimit-remaining'), limited.headers.get('ratelimit-reset')]).toEqual([
      '5',
      '0',
      limited.headers.get('retry-after'),
    ]);
    expect((await heartbeat(a.baseUrl, key)).status).toBe(429);
    expect((await heartbeat(a.baseUrl, undefined)).status).toBe(429);
    await Promise.all([a.ingest.verifier.failures.flush(), b.ingest.verifier.failures.flush()]);
    expect((await failures()).some((r) => r.reason === 'rate_limited')).toBe(true);

    await new Promise((r) => setTimeout(r, 2_100));
    expect((await heartbeat(a.baseUrl, key)).status).toBe(401);
  });

  it('a blocked address costs no bcrypt, and a key already verified keeps working from it', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await heartbeat(a.baseUrl, t.key)).status).toBe(200);
    const key = generateKey().key;
    for (let i = 0; i < 6; i++) await heartbeat(a.baseUrl, key);
    expect((await heartbeat(a.baseUrl, key)).status).toBe(429);
    // a key not verified before is refused before any lookup or bcrypt
    const other = await createTenant(db.sql, 'agent');
    const before = bcryptCalls.compare;
    expect((await heartbeat(a.baseUrl, other.key)).status).toBe(429);
    expect(bcryptCalls.compare).toBe(before);
    expect((await heartbeat(a.baseUrl, t.key)).status).toBe(200);
  });
});

describe('without Redis', () => {
  it('fails open: failures are still 401, never 429 or a hang', async () => {
    const redis = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    redis.on('error', () => {});
    const limiter = new FailureLimiter(redis, { limit: 1, windowSeconds: 60, keyPrefix: 'nowhere' });
    try {
      for (let i = 0; i < 3; i++) expect(await limiter.fail('198.51.100.7')).toBe(0);
      expect(limiter.blockedFor('198.51.100.7')).toBe(0);
    } finally {
      redis.disconnect();
    }
  });
});
