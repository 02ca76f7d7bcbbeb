// Issue 18: a secret, once verified, stays verified for the life of the
// process (a bounded LRU keyed by the key's digest). The TTL only refreshes
// the key's state (revoked, expiry, client active, retention), in one cheap
// query batched across keys, never with bcrypt; a changed hash re-verifies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bcryptCalls, hashKey, KeyVerifier } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const ADDRESS = '192.0.2.10';

/** A verifier on a clock the test moves; TTL 1 s. */
function clocked(options: { maxEntries?: number } = {}) {
  const clock = { now: Date.now() };
  const verifier = new KeyVerifier(db.sql, { ttlMs: 1_000, now: () => clock.now, ...options });
  return { verifier, clock };
}

describe('verified secrets outlive the TTL', () => {
  it('past the TTL the key costs one state query, no bcrypt', async () => {
    const t = await createTenant(db.sql);
    const { verifier, clock } = clocked();
    await verifier.authenticate(t.key, ADDRESS);
    const compares = bcryptCalls.compare;
    const queries = verifier.stateQueries;
    for (let i = 0; i < 5; i++) {
      clock.now += 2_000;
      await expect(verifier.authenticate(t.key, ADDRESS)).resolves.toMatchObject({ clientId: t.clientId });
    }
    expect(bcryptCalls.compare).toBe(compares);
    expect(verifier.stateQueries - queries).toBe(5);
    await verifier.close();
  });

  it('refreshes the state of many stale keys in one batched query', async () => {
    const tenants = await Promise.all(Array.from({ length: 40 }, () => createTenant(db.sql)));
    const { verifier, clock } = clocked();
    for (const t of tenants) await verifier.authenticate(t.key, ADDRESS);
    clock.now += 2_000;
    const compares = bcryptCalls.compare;
    const queries = verifier.stateQueries;
    const principals = await Promise.all(tenants.map((t) => verifier.authenticate(t.key, ADDRESS)));
    expect(principals.map((p) => p.clientId)).toEqual(tenants.map((t) => t.clientId));
    expect(verifier.stateQueries - queries).toBe(1);
    expect(bcryptCalls.compare).toBe(compares);
    await verifier.close();
  });

  it('a state refresh sees revocation, expiry, client deactivation and retention, without bcrypt', async () => {
    const [revoked, expired, inactive, retained] = await Promise.all([1, 2, 3, 4].map(() => createTenant(db.sql)));
    const { verifier, clock } = clocked();
    for (const t of [revoked, expired, inactive, retained]) await verifier.authenticate(t!.key, ADDRESS);
    const compares = bcryptCalls.compare;
    await db.sql`update api_keys set is_active = false, revoked_at = now() where id = ${revoked!.record.id}`;
    await db.sql`update api_keys set expires_at = now() - interval '1 minute' where id = ${expired!.record.id}`;
    await db.sql`update clients set is_active = false where id = ${inactive!.clientId}`;
    await db.sql`update clients set retention_days = 7 where id = ${retained!.clientId}`;
    // within the TTL, without an invalidation, the cached state still answers
    await expect(verifier.authenticate(revoked!.key, ADDRESS)).resolves.toBeTruthy();
    clock.now += 2_000;
    await expect(verifier.authenticate(revoked!.key, ADDRESS)).rejects.toMatchObject({ code: 'api_key_revoked' });
    await expect(verifier.authenticate(expired!.key, ADDRESS)).rejects.toMatchObject({ code: 'api_key_expired' });
    await expect(verifier.authenticate(inactive!.key, ADDRESS)).rejects.toMatchObject({ code: 'client_inactive' });
    await expect(verifier.authenticate(retained!.key, ADDRESS)).resolves.toMatchObject({ retentionDays: 7 });
    expect(bcryptCalls.compare).toBe(compares);
    await verifier.close();
  });

  it('an invalidation refreshes the state at the next use, without bcrypt', async () => {
    const t = await createTenant(db.sql);
    const { verifier } = clocked();
    await verifier.authenticate(t.key, ADDRESS);
    const compares = bcryptCalls.compare;
    await db.sql`update clients set is_active = false where id = ${t.clientId}`;
    verifier.invalidate({ clientId: t.clientId });
    await expect(verifier.authenticate(t.key, ADDRESS)).rejects.toMatchObject({ code: 'client_inactive' });
    await db.sql`update clients set is_active = true where id = ${t.clientId}`;
    verifier.invalidate({ all: true });
    await expect(verifier.authenticate(t.key, ADDRESS)).resolves.toMatchObject({ clientId: t.clientId });
    expect(bcryptCalls.compare).toBe(compares);
    await verifier.close();
  });
});

describe('a verification that raced an invalidation', () => {
  it('keeps the secret but not the state: the next use re-reads the state (and sees the revocation), without bcrypt', async () => {
    const t = await createTenant(db.sql);
    const { verifier } = clocked();
    const first = verifier.authenticate(t.key, ADDRESS);
    // announced while the first use is still being looked up and hashed (its read may predate the change)
    verifier.invalidate({ keyId: t.record.id });
    await expect(first).resolves.toMatchObject({ clientId: t.clientId });
    await db.sql`update api_keys set is_active = false, revoked_at = now() where id = ${t.record.id}`;
    const compares = bcryptCalls.compare;
    const queries = verifier.stateQueries;
    await expect(verifier.authenticate(t.key, ADDRESS)).rejects.toMatchObject({ code: 'api_key_revoked' });
    expect(bcryptCalls.compare).toBe(compares);
    expect(verifier.stateQueries - queries).toBe(1);
    await verifier.close();
  });
});

describe('a changed hash', () => {
  it('forces the secret to be verified again: the same key re-hashed still works after one compare; a hash of another secret refuses it', async () => {
    const t = await createTenant(db.sql);
    const other = await createTenant(db.sql);
    const { verifier, clock } = clocked();
    await verifier.authenticate(t.key, ADDRESS);
    await db.sql`update api_keys set key_hash = ${await hashKey(t.key, 4)} where id = ${t.record.id}`;
    clock.now += 2_000;
    let compares = bcryptCalls.compare;
    await expect(verifier.authenticate(t.key, ADDRESS)).resolves.toMatchObject({ clientId: t.clientId });
    expect(bcryptCalls.compare - compares).toBe(1);
    await db.sql`update api_keys set key_hash = ${await hashKey(other.key, 4)} where id = ${t.record.id}`;
    clock.now += 2_000;
    compares = bcryptCalls.compare;
    await expect(verifier.authenticate(t.key, ADDRESS)).rejects.toMatchObject({ code: 'invalid_api_key' });
    expect(bcryptCalls.compare - compares).toBe(1);
    await verifier.close();
  });
});

describe('the LRU', () => {
  it('is bounded: the least recently used secret is dropped and verified again at its next use', async () => {
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => createTenant(db.sql)));
    const { verifier } = clocked({ maxEntries: 3 });
    for (const t of [a, b, c]) await verifier.authenticate(t!.key, ADDRESS);
    await verifier.authenticate(a!.key, ADDRESS); // a is now the most recent; b the least
    await verifier.authenticate(d!.key, ADDRESS);
    expect(verifier.size).toBe(3);
    let compares = bcryptCalls.compare;
    for (const t of [a, c, d]) await verifier.authenticate(t!.key, ADDRESS);
    expect(bcryptCalls.compare).toBe(compares);
    compares = bcryptCalls.compare;
    await verifier.authenticate(b!.key, ADDRESS);
    expect(bcryptCalls.compare - compares).toBe(1);
    await verifier.close();
  });
});
