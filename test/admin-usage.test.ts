// GET /admin/api/usage: per client and per key, hourly and daily, from usage_hourly;
// admin auth as the other admin routes; bad input is a 4xx, never a 500.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant, type Tenant } from './support/stack.js';

let db: TestDatabase;
let app: AdminTestApp;
let adminKey: string;
let a: Tenant;
let a2: Tenant;
let b: Tenant;
const HOUR = 3_600_000;
const day = Date.UTC(2026, 0, 10);

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  adminKey = (await createAdminKey(db.sql)).key;
  a = await createTenant(db.sql, 'agent', 'ua');
  b = await createTenant(db.sql, 'agent', 'ub');
  const second = await createKey(db.sql, { name: 'second', role: 'agent', clientId: a.clientId, bcryptCost: 4 });
  a2 = { clientId: a.clientId, key: second.key, record: second.record };
  const rows: Array<[Tenant, number, number, Record<string, number>]> = [
    [a, 1, 10, { validation_failed: 2 }],
    [a, 2, 20, {}],
    [a2, 2, 5, { payload_too_large: 1 }],
    [b, 1, 7, {}],
    [a, 25, 100, { validation_failed: 1 }], // the next day
  ];
  for (const [t, h, events, rejected] of rows) {
    await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted, bytes, auth_failures, rate_limited, rejected)
      values (${new Date(day + h * HOUR)}, ${t.record.id}, ${t.clientId}, ${events + 1}, ${events}, ${events * 100}, 1, 1, ${db.sql.json(rejected)})`;
  }
  await db.sql`insert into auth_failures (occurred_at, address, key_prefix, reason) values (${new Date(day + HOUR + 60_000)}, '10.0.0.1', null, 'unknown_key'), (${new Date(day + HOUR + 120_000)}, '10.0.0.1', null, 'unknown_key')`;
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const range = `from=${new Date(day).toISOString()}&to=${new Date(day + 2 * 24 * HOUR).toISOString()}`;

describe('GET /admin/api/usage', () => {
  it("hourly per client: each hour summed over the client's keys, with rejected events by reason", async () => {
    const res = await call(app, 'GET', `/admin/api/usage?client=${a.clientId}&granularity=hour&${range}`, { key: adminKey });
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      {
        bucket: new Date(day + HOUR).toISOString(),
        client_id: a.clientId,
        key_id: null,
        requests: 11,
        events_accepted: 10,
        bytes: 1000,
        auth_failures: 1,
        rate_limited: 1,
        rejected: { validation_failed: 2 },
      },
      {
        bucket: new Date(day + 2 * HOUR).toISOString(),
        client_id: a.clientId,
        key_id: null,
        requests: 27,
        events_accepted: 25,
        bytes: 2500,
        auth_failures: 2,
        rate_limited: 2,
        rejected: { payload_too_large: 1 },
      },
      {
        bucket: new Date(day + 25 * HOUR).toISOString(),
        client_id: a.clientId,
        key_id: null,
        requests: 101,
        events_accepted: 100,
        bytes: 10000,
        auth_failures: 1,
        rate_limited: 1,
        rejected: { validation_failed: 1 },
      },
    ]);
    expect(res.body.auth_failures).toBeUndefined();
  });

  it('daily, every client: a GROUP BY over the hours, plus every failed authentication per day', async () => {
    const cookie = await signIn(app);
    const res = await call(app, 'GET', `/admin/api/usage?granularity=day&${range}`, { cookie });
    expect(res.status).toBe(200);
    const first = res.body.data.filter((r: { bucket: string }) => r.bucket === new Date(day).toISOString());
    expect(first.map((r: any) => [r.client_id, r.events_accepted, r.rejected])).toEqual(
      [
        [a.clientId, 35, { validation_failed: 2, payload_too_large: 1 }],
        [b.clientId, 7, {}],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    expect(res.body.auth_failures).toEqual([{ bucket: new Date(day).toISOString(), failures: 2 }]);
  });

  it('per key, by id or by prefix', async () => {
    for (const key of [a2.record.id, a2.record.prefix]) {
      const res = await call(app, 'GET', `/admin/api/usage?key=${key}&granularity=day&${range}`, { key: adminKey });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([expect.objectContaining({ key_id: a2.record.id, client_id: a.clientId, events_accepted: 5 })]);
    }
    const byKey = await call(app, 'GET', `/admin/api/usage?client=${a.clientId}&by=key&granularity=day&${range}`, { key: adminKey });
    expect(
      byKey.body.data
        .filter((r: { bucket: string }) => r.bucket === new Date(day).toISOString())
        .map((r: { key_id: string }) => r.key_id)
        .sort(),
    ).toEqual([a.record.id, a2.record.id].sort());
  });

  it('per key and hour: requests, events, bytes and rejections of each key (what the client page charts per key)', async () => {
    const res = await call(app, 'GET', `/admin/api/usage?client=${a.clientId}&by=key&granularity=hour&${range}`, { key: adminKey });
    expect(res.status).toBe(200);
    const hour2 = new Date(day + 2 * HOUR).toISOString();
    const row = (keyId: string, events: number, rejected: Record<string, number>) => ({
      bucket: hour2,
      client_id: a.clientId,
      key_id: keyId,
      requests: events + 1,
      events_accepted: events,
      bytes: events * 100,
      auth_failures: 1,
      rate_limited: 1,
      rejected,
    });
    const byKey = (x: { key_id: string }, y: { key_id: string }) => (x.key_id < y.key_id ? -1 : 1);
    expect(res.body.data.filter((r: { bucket: string }) => r.bucket === hour2).sort(byKey)).toEqual(
      [row(a.record.id, 20, {}), row(a2.record.id, 5, { payload_too_large: 1 })].sort(byKey),
    );
    expect(res.body.data.map((r: { key_id: string }) => r.key_id)).not.toContain(null);
  });

  it('defaults to the last 24 hours', async () => {
    const res = await call(app, 'GET', '/admin/api/usage', { key: adminKey });
    expect(res.status).toBe(200);
    expect(new Date(res.body.to).getTime() - new Date(res.body.from).getTime()).toBe(24 * HOUR);
    expect(res.body.data).toEqual([]);
  });

  it('answers 4xx for bad input: unknown client or key 404, bad granularity, reversed or too long range, unknown parameter 400', async () => {
    expect((await call(app, 'GET', '/admin/api/usage?client=nope', { key: adminKey })).status).toBe(404);
    expect((await call(app, 'GET', '/admin/api/usage?key=clk_000000000000', { key: adminKey })).status).toBe(404);
    for (const q of [
      'granularity=week',
      'from=yesterday',
      `from=${new Date(day + HOUR).toISOString()}&to=${new Date(day).toISOString()}`,
      `from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z`,
      'client_id=x',
    ]) {
      const res = await call(app, 'GET', `/admin/api/usage?${q}`, { key: adminKey });
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
  });

  it('needs an admin: no credentials 401, a tenant key 403', async () => {
    expect((await call(app, 'GET', '/admin/api/usage')).status).toBe(401);
    expect((await call(app, 'GET', '/admin/api/usage', { key: a.key })).status).toBe(403);
  });
});
