// Issue 13, items 2 and 3: a flood of well-formed keys with wrong secrets
// costs a few bcrypt compares, not one per request; other tenants' first
// verifications are not queued behind it; and a locked-out address keeps the
// keys this process already verified. bcrypt cost 4 keeps compares cheap
// here, so every assertion is on structure (compares run, order, status),
// never on wall-clock time; the figures are in bench/abuse/auth-flood.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { bcryptCalls, createKey, FailureLimiter, generateKey, KeyVerifier, withChecksum, type KeyVerifierOptions } from '@central-logger/keys';
import { createClient } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { heartbeat } from './support/keys.js';
import { createTenant, deleteRedisKeys, REDIS_URL, startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
let redis: Redis;
const namespaces: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const ns of namespaces) await deleteRedisKeys(ns);
  redis?.disconnect();
  await db?.drop();
});

/** A verifier whose failure limiter has its own Redis namespace (limit 20 per address, 50 per prefix, per minute). */
function verifier(options: KeyVerifierOptions = {}, limits: { limit?: number; prefixLimit?: number; namespace?: string } = {}): KeyVerifier {
  const keyPrefix = limits.namespace ?? `{t${randomBytes(5).toString('hex')}}`;
  namespaces.push(keyPrefix);
  const limiter = new FailureLimiter(redis, { limit: limits.limit ?? 20, prefixLimit: limits.prefixLimit ?? 50, windowSeconds: 60, keyPrefix });
  return new KeyVerifier(db.sql, { limiter, ...options });
}

/** A well-formed key (valid checksum) carrying `prefix` and a random, wrong secret. */
function wrongSecret(prefix: string): string {
  const g = generateKey().key;
  return withChecksum(`${prefix}_${g.slice(g.indexOf('_', 4) + 1, -6)}`);
}

/** Status of each settled authentication: 'ok' or the error code. */
async function outcomes(attempts: Array<Promise<unknown>>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const r of await Promise.allSettled(attempts)) {
    const code = r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code;
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}

describe('a burst of wrong secrets for one prefix', () => {
  it('from one address: a few bcrypt compares, the rest 429 at once', async () => {
    const victim = await createTenant(db.sql);
    const v = verifier();
    const before = bcryptCalls.compare;
    const counts = await outcomes(Array.from({ length: 600 }, () => v.authenticate(wrongSecret(victim.record.prefix), '198.51.100.1')));
    expect(bcryptCalls.compare - before).toBeLessThanOrEqual(4);
    expect(counts.rate_limited).toBeGreaterThanOrEqual(590);
    expect(Object.keys(counts).sort()).toEqual(['invalid_api_key', 'rate_limited']);
    await v.close();
  });

  it('from 600 addresses: a few bcrypt compares, the rest 429 at once', async () => {
    const victim = await createTenant(db.sql);
    const v = verifier();
    const before = bcryptCalls.compare;
    const counts = await outcomes(Array.from({ length: 600 }, (_, i) => v.authenticate(wrongSecret(victim.record.prefix), `10.1.${i >> 8}.${i & 255}`)));
    expect(bcryptCalls.compare - before).toBeLessThanOrEqual(4);
    expect(counts.rate_limited).toBeGreaterThanOrEqual(590);
    await v.close();
  });

  it('from one address across many prefixes: at most AUTH_INFLIGHT_PER_ADDRESS compares at once', async () => {
    const tenants = await Promise.all(Array.from({ length: 10 }, () => createTenant(db.sql)));
    const v = verifier({ inflightPerAddress: 4 });
    const before = bcryptCalls.compare;
    const counts = await outcomes(Array.from({ length: 100 }, (_, i) => v.authenticate(wrongSecret(tenants[i % 10]!.record.prefix), '198.51.100.3')));
    expect(bcryptCalls.compare - before).toBeLessThanOrEqual(4);
    expect(counts.rate_limited).toBeGreaterThanOrEqual(96);
    await v.close();
  });

  it('sustained from many addresses on two processes: the prefix is cut off after its failure limit, counted in Redis before the hash', async () => {
    const victim = await createTenant(db.sql);
    const namespace = `{t${randomBytes(5).toString('hex')}}`;
    const [p1, p2] = [verifier({}, { prefixLimit: 10, namespace }), verifier({}, { prefixLimit: 10, namespace })];
    // the key's own clients, verified by p1 before the flood
    await p1.authenticate(victim.key, '192.0.2.1');
    const before = bcryptCalls.compare;
    const statuses: string[] = [];
    for (let i = 0; i < 40; i++) {
      const p = i % 2 === 0 ? p1 : p2;
      statuses.push(
        await p.authenticate(wrongSecret(victim.record.prefix), `10.2.0.${i}`).then(
          () => 'ok',
          (e: { code: string }) => e.code,
        ),
      );
    }
    // the 11th failure of the prefix, on either process, is refused without hashing
    expect(bcryptCalls.compare - before).toBe(10);
    expect(statuses.slice(0, 10).every((s) => s === 'invalid_api_key')).toBe(true);
    expect(statuses.slice(10).every((s) => s === 'rate_limited')).toBe(true);
    // the key verified before keeps working on p1 (cache hit, no hashing) ...
    await expect(p1.authenticate(victim.key, '192.0.2.1')).resolves.toMatchObject({ clientId: victim.clientId });
    // ... and is 429 without hashing where it was never verified
    await expect(p2.authenticate(victim.key, '192.0.2.1')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(bcryptCalls.compare - before).toBe(10);
    await Promise.all([p1.close(), p2.close()]);
  });

  it('a valid key does not count as a failure: its token is given back once the secret verifies', async () => {
    const v = verifier({}, { limit: 3 });
    for (let i = 0; i < 6; i++) {
      const t = await createTenant(db.sql);
      await expect(v.authenticate(t.key, '198.51.100.2')).resolves.toMatchObject({ clientId: t.clientId });
    }
    await v.close();
  });
});

describe('hashing capacity for everyone else', () => {
  it("another tenant's uncached key is verified ahead of a queued flood, not behind it", async () => {
    // bounds raised so that the flood reaches the hashing queue; cost 10 makes each compare long enough to order
    await createClient(db.sql, 'flooded', 'flooded');
    const { key: floodedKey, record } = await createKey(db.sql, { name: 'k', role: 'agent', clientId: 'flooded', bcryptCost: 10 });
    void floodedKey;
    const other = await createTenant(db.sql);
    const v = verifier({ inflightPerPrefix: 1000, inflightPerAddress: 1000, hashConcurrency: 2 }, { limit: 1000, prefixLimit: 1000 });
    const settled: string[] = [];
    const flood = Array.from({ length: 30 }, (_, i) => v.authenticate(wrongSecret(record.prefix), `10.3.0.${i}`).catch(() => void settled.push('flood')));
    // let the flood's lookups reach the hashing queue first
    await new Promise((r) => setTimeout(r, 150));
    const victim = v.authenticate(other.key, '192.0.2.9').then(() => void settled.push('victim'));
    await Promise.all([...flood, victim]);
    expect(settled.indexOf('victim')).toBeLessThanOrEqual(4);
    await v.close();
  }, 30_000);
});

describe('a locked-out address', () => {
  it('keeps the keys this process verified, past the cache TTL; an unknown key gets 429 without hashing', async () => {
    let now = Date.now();
    const known = await createTenant(db.sql);
    const fresh = await createTenant(db.sql);
    const v = verifier({ ttlMs: 1_000, now: () => now });
    await v.authenticate(known.key, '203.0.113.50');
    for (let i = 0; i < 25; i++) await v.authenticate(generateKey().key, '203.0.113.50').catch(() => {});
    await expect(v.authenticate(generateKey().key, '203.0.113.50')).rejects.toMatchObject({ code: 'rate_limited' });
    now += 5_000; // past the TTL: the key's state is looked up again, its secret is not
    const before = bcryptCalls.compare;
    await expect(v.authenticate(known.key, '203.0.113.50')).resolves.toMatchObject({ clientId: known.clientId });
    await expect(v.authenticate(fresh.key, '203.0.113.50')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(bcryptCalls.compare).toBe(before);
    await v.close();
  });
});

describe('without Redis', () => {
  it('still answers, and the local in-flight bounds still cap hashing', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => {});
    const victim = await createTenant(db.sql);
    const v = new KeyVerifier(db.sql, { limiter: new FailureLimiter(dead, { limit: 1, prefixLimit: 1, windowSeconds: 60, keyPrefix: 'nowhere' }) });
    try {
      const before = bcryptCalls.compare;
      const counts = await outcomes(Array.from({ length: 100 }, (_, i) => v.authenticate(wrongSecret(victim.record.prefix), `10.4.0.${i}`)));
      expect(bcryptCalls.compare - before).toBeLessThanOrEqual(4);
      expect(counts.invalid_api_key).toBeGreaterThanOrEqual(1);
      await expect(v.authenticate(victim.key, '192.0.2.4')).resolves.toMatchObject({ clientId: victim.clientId });
    } finally {
      await v.close();
      dead.disconnect();
    }
  });
});

describe('over HTTP, behind a trusted proxy', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(db, { TRUST_PROXY: 'true', AUTH_PREFIX_FAILURE_LIMIT: '10' }, { worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("600 wrong secrets from 600 addresses: a few compares, 429s with Retry-After and RateLimit-*; another tenant's first request answers 200", async () => {
    const flooded = await createTenant(db.sql);
    const other = await createTenant(db.sql);
    const before = bcryptCalls.compare;
    const flood = Array.from({ length: 600 }, (_, i) =>
      heartbeat(stack.baseUrl, wrongSecret(flooded.record.prefix), { 'x-forwarded-for': `10.5.${i >> 8}.${i & 255}` }),
    );
    const victim = await heartbeat(stack.baseUrl, other.key, { 'x-forwarded-for': '192.0.2.77' });
    const answers = await Promise.all(flood);
    expect(victim.status).toBe(200);
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length + answers.filter((a) => a.status === 401).length).toBe(600);
    expect(limited.length).toBeGreaterThan(500);
    // the prefix's 10 failures, each counted before its hash, and the other tenant's key
    expect(bcryptCalls.compare - before).toBeLessThanOrEqual(11);
    const h = limited[0]!.headers;
    expect(Number(h.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(h.get('ratelimit-remaining')).toBe('0');
    expect(h.get('ratelimit-limit')).toBeTruthy();
    for (const a of answers.filter((x) => x.status === 401)) expect(a.headers.get('www-authenticate')).toBeTruthy();
  }, 30_000);
});
