import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKeyEverywhere, setClientActiveEverywhere } from '@central-logger/keys';
import { createTenantUser, deactivateUserEverywhere, DEV_TENANT_TOKEN_SECRET, TenantTokens } from '@central-logger/tenant-auth';
import { portOf } from '@central-logger/http';
import { startIngestApi } from '../apps/ingest-api/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, type Stack, type Tenant } from './support/stack.js';
import { openTail, type TailClient } from './support/sse.js';

let db: TestDatabase;
let stack: Stack;
let redis: Redis;
const open: TailClient[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars', MAX_TAILS_PER_KEY: '3', TAIL_HEARTBEAT_MS: '60000' });
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  for (const t of open) t.close();
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

async function tail(key: string | undefined, params: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const t = await openTail(stack.baseUrl, key, params, headers);
  open.push(t);
  return t;
}

async function writer(t: Tenant): Promise<string> {
  return (await createKey(db.sql, { name: 'writer', role: 'agent', clientId: t.clientId, bcryptCost: 4 })).key;
}

async function send(key: string, events: Record<string, unknown>[]): Promise<string[]> {
  const res = await postLogs(stack.baseUrl, key, events);
  expect(res.status).toBe(202);
  return res.body.ids;
}

const errorEvent = (t: TailClient) => t.messages.find((m) => m.event === 'error');

describe('live tail: tenants', () => {
  it("never sends another tenant's events, whatever the filters", async () => {
    const a = await createTenant(db.sql, 'reader', 'ta');
    const b = await createTenant(db.sql, 'reader', 'tb');
    const [wa, wb] = await Promise.all([writer(a), writer(b)]);
    const tails = [await tail(a.key), await tail(a.key, { workflow: 'shared' }), await tail(a.key, { q: 'secret' })];
    const bTail = await tail(b.key);
    await send(
      wb,
      Array.from({ length: 20 }, (_, i) => event({ workflow: 'shared', message: `b secret ${i}` })),
    );
    const mine = await send(wa, [event({ workflow: 'shared', message: 'a secret' })]);
    for (const t of tails) await t.until(() => t.logs().length >= 1, 10_000, "a's own event");
    await bTail.until(() => bTail.logs().length >= 20, 10_000, "b's events");
    await new Promise((r) => setTimeout(r, 300));
    for (const t of tails) {
      expect(t.logs().map((l) => l.event_id)).toEqual(mine);
      expect(t.logs().every((l) => l.client_id === a.clientId)).toBe(true);
    }
    expect(bTail.logs().every((l) => l.client_id === b.clientId)).toBe(true);
    for (const t of [...tails, bTail]) t.close();
  });

  it("refuses another tenant's position: a cursor is bound to the tenant it was issued to", async () => {
    const a = await createTenant(db.sql, 'reader', 'ca');
    const b = await createTenant(db.sql, 'reader', 'cb');
    const t = await tail(a.key);
    await t.until((m) => m.length >= 1, 10_000, 'the opening message');
    const position = t.lastEventId();
    expect(position).not.toBe('');
    t.close();
    const stolen = await tail(b.key, {}, { 'last-event-id': position });
    expect(stolen.status).toBe(400);
    expect(stolen.error).toMatchObject({ error: 'validation_failed' });
    // one character changed
    const tampered = await tail(a.key, {}, { 'last-event-id': position.slice(0, -2) + (position.endsWith('A') ? 'BB' : 'AA') });
    expect(tampered.status).toBe(400);
  });

  it('needs a key: none is 401, a wrong one is 401, an admin key is 403', async () => {
    const none = await tail(undefined);
    expect(none.status).toBe(401);
    expect(none.error).toMatchObject({ error: 'api_key_required' });
    const wrong = await tail(`clk_nothere_${'x'.repeat(40)}`);
    expect(wrong.status).toBe(401);
    const admin = await createKey(db.sql, { name: 'admin', role: 'admin', clientId: null, bcryptCost: 4 });
    const adm = await tail(admin.key);
    expect(adm.status).toBe(403);
  });
});

describe('live tail: credentials that stop holding end the stream', () => {
  it('revoking the key ends its streams with an error event, and a reconnect is 401', async () => {
    const t0 = await createTenant(db.sql, 'reader', 'rv');
    const streams = [await tail(t0.key), await tail(t0.key, { level: 'error' })];
    for (const s of streams) await s.until((m) => m.length >= 1, 10_000, 'opening');
    const other = await createTenant(db.sql, 'reader', 'rvo');
    const bystander = await tail(other.key);
    await revokeKeyEverywhere(db.sql, redis, t0.record.id);
    for (const s of streams) {
      await s.ended;
      expect(errorEvent(s)).toBeDefined();
      expect(JSON.parse(errorEvent(s)!.data)).toMatchObject({ error: 'api_key_revoked' });
    }
    expect(errorEvent(bystander)).toBeUndefined();
    const again = await tail(t0.key);
    expect(again.status).toBe(401);
    bystander.close();
  });

  it('deactivating the client ends its streams (keys and user tokens alike)', async () => {
    const t0 = await createTenant(db.sql, 'owner', 'dc');
    const user = await createTenantUser(db.sql, {
      clientId: t0.clientId,
      username: `u_${t0.clientId}`,
      role: 'reader',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const { accessToken } = await new TenantTokens(db.sql, DEV_TENANT_TOKEN_SECRET).issue({ id: user.id, clientId: t0.clientId, role: 'reader' });
    const byKey = await tail(t0.key);
    const byToken = await tail(accessToken);
    for (const s of [byKey, byToken]) await s.until((m) => m.length >= 1, 10_000, 'opening');
    await setClientActiveEverywhere(db.sql, redis, t0.clientId, false);
    for (const s of [byKey, byToken]) {
      await s.ended;
      expect(JSON.parse(errorEvent(s)!.data)).toMatchObject({ error: 'client_inactive' });
    }
  });

  it("a tenant user's token tails, and deactivating the user ends the stream", async () => {
    const t0 = await createTenant(db.sql, 'owner', 'du');
    const w = await writer(t0);
    const user = await createTenantUser(db.sql, {
      clientId: t0.clientId,
      username: `u_${t0.clientId}`,
      role: 'reader',
      password: null,
      bcryptCost: 4,
      createdBy: 'test',
    });
    const { accessToken } = await new TenantTokens(db.sql, DEV_TENANT_TOKEN_SECRET).issue({ id: user.id, clientId: t0.clientId, role: 'reader' });
    const s = await tail(accessToken);
    expect(s.status).toBe(200);
    const ids = await send(w, [event({ message: 'for the user' })]);
    await s.until(() => s.logs().length >= 1, 10_000, 'the event');
    expect(s.logs().map((l) => l.event_id)).toEqual(ids);
    await deactivateUserEverywhere(db.sql, redis, user.id);
    await s.ended;
    expect(errorEvent(s)).toBeDefined();
  });
});

describe('live tail: MAX_TAILS_PER_KEY', () => {
  it('holds under a parallel burst: exactly the limit get 200, the rest 429 with Retry-After', async () => {
    const t0 = await createTenant(db.sql, 'reader', 'mx');
    const burst = await Promise.all(Array.from({ length: 12 }, () => tail(t0.key)));
    const statuses = burst.map((t) => t.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    const refused = burst.find((t) => t.status === 429)!;
    expect(refused.error).toMatchObject({ error: 'rate_limited' });
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    // another key of the same tenant has its own limit
    const second = await createKey(db.sql, { name: 'second', role: 'reader', clientId: t0.clientId, bcryptCost: 4 });
    expect((await tail(second.key)).status).toBe(200);
    // closing one frees its place
    const ok = burst.filter((t) => t.status === 200);
    ok[0]!.close();
    await new Promise((r) => setTimeout(r, 300));
    const next = await tail(t0.key);
    expect(next.status).toBe(200);
  });

  it('counts the streams of a key across ingest processes', async () => {
    const t0 = await createTenant(db.sql, 'reader', 'mp');
    const second = await startIngestApi(stack.ingestConfig);
    try {
      const url2 = `http://127.0.0.1:${portOf(second.server)}`;
      const here = [await tail(t0.key), await tail(t0.key)];
      const there = await openTail(url2, t0.key);
      open.push(there);
      const refused = await openTail(url2, t0.key);
      expect([...here, there].map((t) => t.status)).toEqual([200, 200, 200]);
      expect(refused.status).toBe(429);
      expect((await tail(t0.key)).status).toBe(429);
      there.close();
    } finally {
      await second.close();
    }
  });
});
