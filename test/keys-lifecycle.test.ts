// Verification outcomes over HTTP: specific errors only after the secret
// verified, expiry, rotation with grace, legacy hashes, and that failures
// cost no bcrypt unless a real key's prefix was named.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { deactivateClient } from '@central-logger/db';
import {
  bcryptCalls,
  createKey,
  generateKey,
  revokeKey,
  revokeKeyEverywhere,
  rotateKey,
  rotateKeyEverywhere,
  setClientActiveEverywhere,
  withChecksum,
} from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { heartbeat, insertLegacyKey } from './support/keys.js';
import { createTenant, REDIS_URL, startStack, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
// ingest-api's clock: a key's expiry is read from it, so a test moves it on instead of sleeping
let skewMs = 0;
const advance = (ms: number) => {
  skewMs += ms;
};
afterEach(() => {
  skewMs = 0;
});

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { AUTH_FAILURE_LIMIT: '1000' }, { worker: false, now: () => Date.now() + skewMs });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

/** The same key with its secret changed and the checksum made valid again: right prefix, wrong secret. */
function wrongSecret(key: string): string {
  return withChecksum(key.slice(0, 17) + generateKey().key.slice(17, 17 + 43));
}

describe('errors after the secret verified', () => {
  it('a revoked key: api_key_revoked with its secret, invalid_api_key without', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    await revokeKey(db.sql, t.record.id);
    stack.ingest.verifier.invalidate({ keyId: t.record.id });
    const res = await heartbeat(stack.baseUrl, t.key);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('api_key_revoked');
    expect(res.headers.get('www-authenticate')).toBeTruthy();
    expect((await heartbeat(stack.baseUrl, wrongSecret(t.key))).body.error).toBe('invalid_api_key');
  });

  it('an inactive client: client_inactive with the secret, invalid_api_key without', async () => {
    const t = await createTenant(db.sql, 'agent');
    await deactivateClient(db.sql, t.clientId);
    expect((await heartbeat(stack.baseUrl, t.key)).body.error).toBe('client_inactive');
    expect((await heartbeat(stack.baseUrl, wrongSecret(t.key))).body.error).toBe('invalid_api_key');
  });

  it('an expired key: api_key_expired with the secret, invalid_api_key without', async () => {
    const t = await createTenant(db.sql, 'agent');
    const { key } = await createKey(db.sql, { name: 'short', role: 'agent', clientId: t.clientId, expiresAt: new Date(Date.now() + 60_000), bcryptCost: 4 });
    expect((await heartbeat(stack.baseUrl, key)).status).toBe(200);
    advance(61_000);
    // still cached: expiry is checked on every request, not only on a cache miss
    expect((await heartbeat(stack.baseUrl, key)).body.error).toBe('api_key_expired');
    expect((await heartbeat(stack.baseUrl, wrongSecret(key))).body.error).toBe('invalid_api_key');
  });
});

describe('rotation with grace', () => {
  it('the new key works at once, the old one until the grace ends, then api_key_expired; both record the link', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    const rotation = await rotateKey(db.sql, t.clientId, t.record.prefix, { graceMs: 60_000, bcryptCost: 4 });
    stack.ingest.verifier.invalidate({ keyId: t.record.id });
    expect(rotation.record.rotatedFrom).toBe(t.record.id);
    expect(rotation.previous.replacedBy).toBe(rotation.record.id);
    expect(rotation.record.role).toBe('agent');
    expect((await heartbeat(stack.baseUrl, rotation.key)).status).toBe(200);
    expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    advance(61_000);
    expect((await heartbeat(stack.baseUrl, t.key)).body.error).toBe('api_key_expired');
    expect((await heartbeat(stack.baseUrl, rotation.key)).status).toBe(200);
  });

  it("a key rotated already, or revoked, cannot be rotated (409); another tenant's is 404", async () => {
    const t = await createTenant(db.sql, 'agent');
    const other = await createTenant(db.sql, 'agent');
    await expect(rotateKey(db.sql, other.clientId, t.record.id, { graceMs: 1_000, bcryptCost: 4 })).rejects.toMatchObject({ code: 'not_found' });
    await rotateKey(db.sql, t.clientId, t.record.id, { graceMs: 60_000, bcryptCost: 4 });
    await expect(rotateKey(db.sql, t.clientId, t.record.id, { graceMs: 1_000, bcryptCost: 4 })).rejects.toMatchObject({ code: 'conflict' });
    await revokeKey(db.sql, other.record.id);
    await expect(rotateKey(db.sql, other.clientId, other.record.id, { graceMs: 1_000, bcryptCost: 4 })).rejects.toMatchObject({ code: 'conflict' });
  });
});

describe('legacy SHA-256 keys (hash_version 1)', () => {
  it('verify, and are re-hashed with bcrypt on their first successful use', async () => {
    const t = await createTenant(db.sql, 'agent');
    const legacy = await insertLegacyKey(db.sql, t.clientId);
    const res = await heartbeat(stack.baseUrl, legacy.key);
    expect(res.status).toBe(200);
    expect(res.body.clientId).toBe(t.clientId);
    const upgraded = async () => (await db.sql`select hash_version, key_hash from api_keys where id = ${legacy.id}`)[0]!;
    for (let i = 0; i < 100 && (await upgraded()).hash_version !== 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await upgraded()).hash_version).toBe(2);
    expect((await upgraded()).key_hash).toMatch(/^\$2[aby]\$/);
    // and keep working once the cache forgets them: now through bcrypt
    stack.ingest.verifier.invalidate({ all: true });
    expect((await heartbeat(stack.baseUrl, legacy.key)).status).toBe(200);
  });
});

describe('failed authentication is cheap', () => {
  it('no bcrypt for a bad checksum, an unknown prefix, garbage or an unknown legacy key; one for a known prefix', async () => {
    const t = await createTenant(db.sql, 'agent');
    const before = bcryptCalls.compare;
    const badChecksum = t.key.slice(0, -1) + (t.key.endsWith('A') ? 'B' : 'A');
    for (const key of [badChecksum, generateKey().key, 'garbage with spaces', 'unknown-legacy-key-0123456789']) {
      const res = await heartbeat(stack.baseUrl, key);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_api_key');
    }
    expect(bcryptCalls.compare).toBe(before);
    expect((await heartbeat(stack.baseUrl, wrongSecret(t.key))).status).toBe(401);
    expect(bcryptCalls.compare).toBe(before + 1);
  });

  it('a cached key costs no bcrypt and no lookup', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    const before = bcryptCalls.compare;
    for (let i = 0; i < 20; i++) expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    expect(bcryptCalls.compare).toBe(before);
  });
});

describe('changes that must reach every process', () => {
  it('commit with their audit row or not at all: a failing audit undoes the revocation, rotation and deactivation', async () => {
    const t = await createTenant(db.sql, 'agent');
    const redis = new Redis(REDIS_URL);
    onTestFinished(() => redis.disconnect());
    const failing = async () => {
      throw new Error('the audit log cannot be written');
    };
    await expect(revokeKeyEverywhere(db.sql, redis, t.record.id, undefined, failing)).rejects.toThrow('audit');
    await expect(rotateKeyEverywhere(db.sql, redis, undefined, t.record.id, { graceMs: 60_000, bcryptCost: 4, inTransaction: failing })).rejects.toThrow(
      'audit',
    );
    await expect(setClientActiveEverywhere(db.sql, redis, t.clientId, false, failing)).rejects.toThrow('audit');
    const [key] = await db.sql`select is_active, revoked_at, replaced_by, expires_at from api_keys where id = ${t.record.id}`;
    expect(key).toEqual({ is_active: true, revoked_at: null, replaced_by: null, expires_at: null });
    expect(await db.sql`select id from api_keys where rotated_from = ${t.record.id}`).toHaveLength(0);
    const [client] = await db.sql`select is_active from clients where id = ${t.clientId}`;
    expect(client!.is_active).toBe(true);
    // and with a working audit, the change and its row land together
    const written: string[] = [];
    const { result } = await revokeKeyEverywhere(db.sql, redis, t.record.id, undefined, async (tx, r) => {
      written.push((await tx`select revoked_at from api_keys where id = ${r.id}`)[0]!.revoked_at ? 'revoked' : 'not yet');
    });
    expect(result?.status).toBe('revoked');
    expect(written).toEqual(['revoked']);
  });
});
