import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, generateKey, revokeKey } from '@central-logger/keys';
import { createSql } from '@central-logger/db';
import { LimitsResolver, setLimitOverrides } from '@central-logger/limits';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(
    db,
    {
      RATE_KEY_REQUESTS_PER_SECOND: '5',
      RATE_KEY_REQUEST_BURST: '7',
      RATE_KEY_EVENTS_PER_SECOND: '100',
      RATE_KEY_EVENT_BURST: '300',
      RATE_TENANT_EVENTS_PER_SECOND: '150',
      RATE_TENANT_EVENT_BURST: '400',
      RATE_TENANT_EVENTS_PER_DAY: '5000',
      LIMITS_CACHE_TTL_MS: '200',
      MAX_KEYS_PER_CLIENT: '7',
      MAX_TAILS_PER_KEY: '3',
      MAX_TAILS_PER_CLIENT: '9',
    },
    { worker: false },
  );
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const getLimits = async (key?: string) => {
  const res = await fetch(`${stack.baseUrl}/api/v1/limits`, { headers: key ? { 'x-api-key': key } : {} });
  return { status: res.status, body: (await res.json()) as any };
};

describe('GET /api/v1/limits', () => {
  it('shows the tenant its limits and its events today, to any of its keys', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, t.key, [event(), event(), event()])).status).toBe(202);
    const res = await getLimits(t.key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      client_id: t.clientId,
      limits: {
        per_key: { requests_per_second: 5, request_burst: 7, events_per_second: 100, event_burst: 300 },
        per_client: { events_per_second: 150, event_burst: 400, events_per_day: 5000 },
        keys: 7,
        live_tails: { per_key: 3, per_client: 9 },
      },
      usage: { day: new Date().toISOString().slice(0, 10), events_today: 3, events_remaining_today: 4997, keys: 1 },
    });
    // the usable keys against the cap: a second key counts, a revoked one does not
    const second = await createKey(db.sql, { name: 'second', role: 'agent', clientId: t.clientId, bcryptCost: 4 });
    expect((await getLimits(t.key)).body.usage.keys).toBe(2);
    await revokeKey(db.sql, second.record.id, t.clientId);
    expect((await getLimits(t.key)).body.usage.keys).toBe(1);
    expect(Date.parse(res.body.usage.resets_at)).toBeGreaterThan(Date.now());
    for (const role of ['reader', 'owner'] as const) {
      const other = await createTenant(db.sql, role);
      const r = await getLimits(other.key);
      expect(r.status).toBe(200);
      expect(r.body.client_id).toBe(other.clientId);
      expect(r.body.usage.events_today).toBe(0);
    }
  });

  it('shows a per-client override once it is set', async () => {
    const t = await createTenant(db.sql, 'reader');
    await setLimitOverrides(db.sql, t.clientId, { eventsPerDay: 42, requestsPerSecond: 1.5, tenantEventsPerSecond: 250 });
    const body = await waitFor(
      async () => {
        const r = await getLimits(t.key);
        return r.body.limits.per_client.events_per_day === 42 && r.body;
      },
      5_000,
      'override',
    );
    expect(body.limits.per_key.requests_per_second).toBe(1.5);
    expect(body.limits.per_key.request_burst).toBe(7);
    expect(body.limits.per_client).toMatchObject({ events_per_second: 250, event_burst: 400 });
  });

  it('401 without a key or with a wrong one', async () => {
    const none = await getLimits();
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('api_key_required');
    const wrong = await getLimits(generateKey().key);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_api_key');
  });
});

describe('LimitsResolver', () => {
  it('goes on with the last known limits, or the defaults, while Postgres cannot answer', async () => {
    const t = await createTenant(db.sql, 'agent');
    await setLimitOverrides(db.sql, t.clientId, { eventsPerDay: 77 });
    const defaults = {
      requestsPerSecond: 1,
      requestBurst: 2,
      eventsPerSecond: 3,
      eventBurst: 4,
      tenantEventsPerSecond: 6,
      tenantEventBurst: 7,
      eventsPerDay: 5,
    };
    let now = 0;
    const errors: string[] = [];
    const live = new LimitsResolver(
      db.sql,
      defaults,
      1_000,
      (e) => errors.push(e.message),
      () => now,
    );
    expect((await live.limitsOf(t.clientId)).eventsPerDay).toBe(77);
    const dead = createSql('postgres://postgres@127.0.0.1:1/none', { max: 1 });
    try {
      const offline = new LimitsResolver(
        dead,
        defaults,
        1_000,
        (e) => errors.push(e.message),
        () => now,
      );
      expect(await offline.limitsOf(t.clientId)).toEqual(defaults);
      // a known client keeps its last limits past the TTL
      (live as unknown as { sql: unknown }).sql = dead;
      now = 5_000;
      expect((await live.limitsOf(t.clientId)).eventsPerDay).toBe(77);
      expect(errors.length).toBe(2);
    } finally {
      await dead.end({ timeout: 1 });
    }
  });
});
