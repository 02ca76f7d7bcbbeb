// MAX_TAILS_PER_CLIENT: all the live tails of one tenant (its keys and users together), across ingest processes.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ingestSchema, loadConfig } from '@central-logger/config';
import { createKey } from '@central-logger/keys';
import { createTenantUser, DEV_TENANT_TOKEN_SECRET, TenantTokens } from '@central-logger/tenant-auth';
import { portOf } from '@central-logger/http';
import { tailNames } from '@central-logger/tail';
import { startIngestApi } from '../apps/ingest-api/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';
import { openTail, type TailClient } from './support/sse.js';

let db: TestDatabase;
let stack: Stack;
let redis: Redis;
let names: ReturnType<typeof tailNames>;
const open: TailClient[] = [];

const PER_KEY = 'At most 2 live tails per key at once; close one first';
const PER_CLIENT = 'At most 3 live tails per client at once; close one first';

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(
    db,
    { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars', MAX_TAILS_PER_KEY: '2', MAX_TAILS_PER_CLIENT: '3', TAIL_HEARTBEAT_MS: '60000' },
    { worker: false },
  );
  redis = new Redis(REDIS_URL);
  names = tailNames(stack.env.QUEUE_PREFIX!);
});
afterAll(async () => {
  for (const t of open) t.close();
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

async function tail(key: string, baseUrl = stack.baseUrl) {
  const t = await openTail(baseUrl, key);
  open.push(t);
  return t;
}

async function secondKey(t: Tenant): Promise<{ key: string; id: string }> {
  const k = await createKey(db.sql, { name: 'second', role: 'reader', clientId: t.clientId, bcryptCost: 4 });
  return { key: k.key, id: k.record.id };
}

/** Streams leased in the client's set, once a closed one's lease has been given back. */
const clientLeases = (clientId: string) => redis.zcard(names.clientLeases(clientId));
const keyLeases = (keyId: string) => redis.zcard(names.leases(keyId));
const settled = (clientId: string, n: number) => waitFor(async () => (await clientLeases(clientId)) === n, 5_000, `${n} leases of ${clientId}`);

function expectRefused(t: TailClient & { error?: any }, message: string, limit: number) {
  expect(t.status).toBe(429);
  expect(t.error).toMatchObject({ error: 'rate_limited', message });
  expect(t.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(t.headers.get('ratelimit-limit')).toBe(String(limit));
  expect(t.headers.get('ratelimit-remaining')).toBe('0');
  expect(t.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
}

describe('live tail: MAX_TAILS_PER_CLIENT', () => {
  it("counts all of a client's keys and users together; other clients are not affected; closing one frees a place", async () => {
    const a = await createTenant(db.sql, 'owner', 'pc');
    const a2 = await secondKey(a);
    const held = [await tail(a.key), await tail(a.key), await tail(a2.key)];
    expect(held.map((t) => t.status)).toEqual([200, 200, 200]);
    // the second key holds one of its two: the client's bound refuses it
    expectRefused(await tail(a2.key), PER_CLIENT, 3);
    // the first key is at its own bound too: that one says so (closing one of its tails is what lets it open)
    expectRefused(await tail(a.key), PER_KEY, 2);
    // a tenant user's stream counts under the same client
    const user = await createTenantUser(db.sql, {
      clientId: a.clientId,
      username: `u_${a.clientId}`,
      role: 'reader',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const { accessToken } = await new TenantTokens(db.sql, DEV_TENANT_TOKEN_SECRET).issue({ id: user.id, clientId: a.clientId, role: 'reader' });
    expectRefused(await tail(accessToken), PER_CLIENT, 3);
    // another client has its own bound
    const b = await createTenant(db.sql, 'reader', 'pcb');
    const b2 = await secondKey(b);
    expect([(await tail(b.key)).status, (await tail(b2.key)).status, (await tail(b.key)).status]).toEqual([200, 200, 200]);
    // closing one of a's streams lets another of its keys or users open
    held[0]!.close();
    await settled(a.clientId, 2);
    expect((await tail(accessToken)).status).toBe(200);
    expectRefused(await tail(a2.key), PER_CLIENT, 3);
  });

  it('a refusal by the client bound leaves no lease of the key behind', async () => {
    const a = await createTenant(db.sql, 'reader', 'lk');
    const [a2, a3] = [await secondKey(a), await secondKey(a)];
    const held = [await tail(a.key), await tail(a.key), await tail(a2.key)];
    expect(held.map((t) => t.status)).toEqual([200, 200, 200]);
    // a parallel burst on the keys that are under their own bound: all refused by the client's
    const burst = await Promise.all([...Array.from({ length: 4 }, () => tail(a2.key)), ...Array.from({ length: 4 }, () => tail(a3.key))]);
    for (const t of burst) expectRefused(t, PER_CLIENT, 3);
    expect([await keyLeases(a.record.id), await keyLeases(a2.id), await keyLeases(a3.id), await clientLeases(a.clientId)]).toEqual([2, 1, 0, 3]);
    // once the client has room, the refused keys open their whole MAX_TAILS_PER_KEY
    for (const t of held) t.close();
    await settled(a.clientId, 0);
    expect([(await tail(a3.key)).status, (await tail(a3.key)).status, (await tail(a2.key)).status]).toEqual([200, 200, 200]);
    expectRefused(await tail(a3.key), PER_KEY, 2);
  });

  it("counts a client's streams across ingest processes", async () => {
    const a = await createTenant(db.sql, 'reader', 'pp');
    const a2 = await secondKey(a);
    const second = await startIngestApi(stack.ingestConfig);
    try {
      const url2 = `http://127.0.0.1:${portOf(second.server)}`;
      const here = [await tail(a.key), await tail(a.key)];
      const there = await tail(a2.key, url2);
      expect([...here, there].map((t) => t.status)).toEqual([200, 200, 200]);
      expectRefused(await tail(a2.key, url2), PER_CLIENT, 3);
      expectRefused(await tail(a2.key), PER_CLIENT, 3);
      // a stream closed on one process makes room on the other
      there.close();
      await settled(a.clientId, 2);
      expect((await tail(a2.key)).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('config: MAX_TAILS_PER_CLIENT defaults to 20 and must be at least MAX_TAILS_PER_KEY', () => {
    expect(loadConfig(ingestSchema, {}).MAX_TAILS_PER_CLIENT).toBe(20);
    expect(loadConfig(ingestSchema, { MAX_TAILS_PER_KEY: '7', MAX_TAILS_PER_CLIENT: '7' }).MAX_TAILS_PER_CLIENT).toBe(7);
    expect(() => loadConfig(ingestSchema, { MAX_TAILS_PER_KEY: '30' })).toThrow(ConfigError);
    expect(() => loadConfig(ingestSchema, { MAX_TAILS_PER_KEY: '5', MAX_TAILS_PER_CLIENT: '4' })).toThrow(
      /MAX_TAILS_PER_CLIENT: must be at least MAX_TAILS_PER_KEY \(5\)/,
    );
    expect(() => loadConfig(ingestSchema, { MAX_TAILS_PER_CLIENT: '0' })).toThrow(/MAX_TAILS_PER_CLIENT/);
  });
});
