// GET /admin/api/clients/:id/summary: retention, limits, quota and the error
// rate and top workflows of a client's stored events (event time), no other client's.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertLogs, type LogRow } from '@central-logger/db';
import { utcDay } from '@central-logger/limits';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, REDIS_URL } from './support/stack.js';
import { call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;
let cookie: string;
let redis: Redis;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db, { RATE_TENANT_EVENTS_PER_DAY: '1000', RATE_KEY_REQUESTS_PER_SECOND: '7' });
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
  redis = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await db?.drop();
});

function logRow(clientId: string, i: number, status: string, workflow: string | null, level: string | null = null, agoMs = 60_000): LogRow {
  return {
    client_id: clientId,
    event_id: `e${i}`,
    received_at: new Date().toISOString(),
    executed_at: new Date(Date.now() - agoMs).toISOString(),
    environment: 'test',
    status,
    workflow,
    run_id: null,
    level,
    message: null,
    duration_ms: null,
    metadata: {},
  } as LogRow;
}

describe('GET /admin/api/clients/:id/summary', () => {
  it('counts its own stored events of the window by status and workflow, with the error rate, and no other client’s', async () => {
    const t = await createTenant(db.sql, 'agent', 'sum');
    const other = await createTenant(db.sql, 'agent', 'other');
    const rows = [
      ...Array.from({ length: 6 }, (_, i) => logRow(t.clientId, i, 'SUCCESS', 'nightly')),
      logRow(t.clientId, 6, 'FAILURE', 'nightly'),
      logRow(t.clientId, 7, 'SUCCESS', 'hourly', 'error'),
      logRow(t.clientId, 8, 'SUCCESS', null),
      logRow(t.clientId, 9, 'FAILURE', 'old', null, 3 * 86_400_000), // outside the last 24 h
      ...Array.from({ length: 5 }, (_, i) => logRow(other.clientId, i, 'FAILURE', 'theirs')),
    ];
    await insertLogs(db.sql, rows);
    await redis.set(`${app.config.QUEUE_PREFIX}:rl:d:${t.clientId}:${utcDay(Date.now())}`, '250');

    const res = await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary`, { cookie });
    expect(res.status).toBe(200);
    expect(res.body.retention_days).toBe(30);
    expect(res.body.quota).toEqual({ day: utcDay(Date.now()), events_used: 250, events_per_day: 1000 });
    expect(res.body.limits.defaults).toMatchObject({ requests_per_second: 7, events_per_day: 1000 });
    expect(res.body.limits.overrides.requests_per_second).toBeNull();
    expect(res.body.events).toMatchObject({ counted_by: 'event_time', hours: 24, examined: 9, sampled: false, failed: 2 });
    expect(res.body.events.error_rate).toBeCloseTo(2 / 9);
    expect(res.body.events.by_status).toEqual([
      { status: 'SUCCESS', events: 8 },
      { status: 'FAILURE', events: 1 },
    ]);
    expect(res.body.events.top_workflows).toEqual([
      { workflow: 'nightly', events: 7, failed: 1 },
      { workflow: 'hourly', events: 1, failed: 1 },
      { workflow: null, events: 1, failed: 0 },
    ]);

    const week = await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary?hours=96`, { cookie });
    expect(week.body.events.examined).toBe(10);
  });

  it('shows an override as in force, and takes an admin key', async () => {
    const t = await createTenant(db.sql, 'agent', 'ovr');
    const { key } = await createAdminKey(db.sql);
    expect((await call(app, 'PATCH', `/admin/api/clients/${t.clientId}`, { key }, { retention_days: 7, limits: { events_per_day: 50 } })).status).toBe(200);
    const res = await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary`, { key });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      retention_days: 7,
      quota: { events_used: 0, events_per_day: 50 },
      limits: { overrides: { events_per_day: 50 }, effective: { events_per_day: 50, requests_per_second: 7 } },
    });
    expect(res.body.events).toMatchObject({ examined: 0, error_rate: null, top_workflows: [] });
  });

  it('401 without a session, 400 for a bad window, 404 for an unknown client', async () => {
    const t = await createTenant(db.sql, 'agent', 'err');
    expect((await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary`)).status).toBe(401);
    for (const q of ['hours=0', 'hours=745', 'hours=abc', 'hours=1&hours=2', 'other=1']) {
      const res = await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary?${q}`, { cookie });
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
    const missing = await call(app, 'GET', '/admin/api/clients/nobody/summary', { cookie });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: 'not_found' });
    expect((await call(app, 'GET', `/admin/api/clients/${'x'.repeat(5000)}/summary`, { cookie })).status).toBe(404);
  });

  it('a tenant key is refused', async () => {
    const t = await createTenant(db.sql, 'owner', 'tenantkey');
    expect((await call(app, 'GET', `/admin/api/clients/${t.clientId}/summary`, { key: t.key })).status).toBe(403);
  });
});
