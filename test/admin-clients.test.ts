// The admin API's clients: create, list with counts, get, deactivate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertLogs, type LogRow } from '@central-logger/db';
import { EVENT_COUNT_CAP } from '../apps/admin/src/store/client-overview.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';
import { ANNOUNCED_WITHIN_MS, call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;
let stack: Stack;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  stack = await startStack(db, {}, { worker: false });
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
});
afterAll(async () => {
  await app?.close();
  await stack?.close();
  await db?.drop();
});

/** A stored log row, written straight to the table (the worker is not under test here). */
function logRow(clientId: string, eventId: string, executedAt: Date): LogRow {
  return {
    client_id: clientId,
    event_id: eventId,
    received_at: new Date().toISOString(),
    executed_at: executedAt.toISOString(),
    environment: 'test',
    status: 'SUCCESS',
    workflow: null,
    run_id: null,
    level: null,
    message: null,
    duration_ms: null,
    metadata: {},
  } as LogRow;
}

describe('POST /admin/api/clients', () => {
  it('creates a client and audits it in the same transaction', async () => {
    const res = await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'acme_corp', name: 'Acme Corp' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: 'acme_corp',
      name: 'Acme Corp',
      status: 'active',
      last_heartbeat_at: null,
      keys: { total: 0, active: 0 },
      events_last_24h: { count: 0, capped: false },
    });
    const [audit] = await db.sql`select * from admin_audit where action = 'client.create'`;
    expect(audit).toMatchObject({ actor: 'ops', target: 'client:acme_corp', details: { name: 'Acme Corp' }, ip: '127.0.0.1' });
  });

  it('names the client after its id when no name is given, and takes an admin key', async () => {
    const { key, record } = await createAdminKey(db.sql);
    const res = await call(app, 'POST', '/admin/api/clients', { key }, { id: 'by_key' });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('by_key');
    const [audit] = await db.sql`select actor from admin_audit where target = 'client:by_key'`;
    expect(audit!.actor).toBe(record.prefix);
  });

  it('409 for an id that exists, and writes no audit row for it', async () => {
    await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'twice' });
    const res = await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'twice' });
    expect(res.status).toBe(409);
    expect(res.body.error).toBe('conflict');
    expect(await db.sql`select 1 from admin_audit where target = 'client:twice'`).toHaveLength(1);
  });

  it.each([
    [{}, 'id'],
    [{ id: 'bad id!' }, 'id'],
    [{ id: '-starts-with-dash' }, 'id'],
    [{ id: 'x'.repeat(64) }, 'id'],
    [{ id: 'fine', name: '' }, 'name'],
    [{ id: 'fine', name: 7 }, 'name'],
  ])('400 with details for %j', async (body, field) => {
    const res = await call(app, 'POST', '/admin/api/clients', { cookie }, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('400 for a body that is not an object', async () => {
    const res = await call(app, 'POST', '/admin/api/clients', { cookie }, [1, 2]);
    expect(res.status).toBe(400);
  });
});

describe('GET /admin/api/clients and /admin/api/clients/:id', () => {
  it('lists clients with last heartbeat, key counts and events of the last 24 h', async () => {
    const tenant = await createTenant(db.sql, 'agent', 'counted');
    await createTenant(db.sql, 'agent', 'other'); // its events must not count for `counted`
    const [, revoked] = await Promise.all([
      call(app, 'POST', '/admin/api/keys', { cookie }, { name: 'second', role: 'reader', client_id: tenant.clientId }),
      call(app, 'POST', '/admin/api/keys', { cookie }, { name: 'third', role: 'reader', client_id: tenant.clientId }),
    ]);
    await call(app, 'DELETE', `/admin/api/keys/${revoked.body.id}`, { cookie }, {});
    const now = Date.now();
    const row = (i: number, agoMs: number) => logRow(tenant.clientId, `e${i}`, new Date(now - agoMs));
    await insertLogs(db.sql, [row(1, 1_000), row(2, 3_600_000), row(3, 20 * 3_600_000), row(4, 30 * 3_600_000)]);
    await db.sql`update clients set last_heartbeat_at = now() where id = ${tenant.clientId}`;

    const list = await call(app, 'GET', '/admin/api/clients', { cookie });
    expect(list.status).toBe(200);
    const counted = list.body.data.find((c: { id: string }) => c.id === tenant.clientId);
    expect(counted).toMatchObject({ keys: { total: 3, active: 2 }, events_last_24h: { count: 3, capped: false } });
    expect(new Date(counted.last_heartbeat_at).getTime()).toBeGreaterThan(now - 60_000);

    const one = await call(app, 'GET', `/admin/api/clients/${tenant.clientId}`, { cookie });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(counted);
  });

  it('also counts events accepted in the last 24 hours by arrival, from the hourly roll-up the usage charts read', async () => {
    const t = await createTenant(db.sql, 'agent', 'arrival');
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    for (const [h, n] of [
      [hour, 5],
      [hour - 23 * 3_600_000, 7],
      [hour - 26 * 3_600_000, 100],
    ] as const) {
      await db.sql`insert into usage_hourly (hour, key_id, client_id, requests, events_accepted) values (${new Date(h)}, ${t.record.id}, ${t.clientId}, 1, ${n})`;
    }
    // an event that says it ran a week ago, stored now: by arrival it counts, by event time it does not
    await insertLogs(db.sql, [logRow(t.clientId, 'late', new Date(Date.now() - 7 * 86_400_000))]);
    const res = await call(app, 'GET', `/admin/api/clients/${t.clientId}`, { cookie });
    expect(res.body).toMatchObject({ accepted_last_24h: 12, events_last_24h: { count: 0, capped: false } });
  });

  it("stops counting a busy tenant's events at the cap and says so", async () => {
    const tenant = await createTenant(db.sql, 'agent', 'busy');
    const now = Date.now();
    await insertLogs(
      db.sql,
      Array.from({ length: EVENT_COUNT_CAP + 1 }, (_, i) => logRow(tenant.clientId, `b${i}`, new Date(now - (i % 3_600) * 1_000))),
    );
    const res = await call(app, 'GET', `/admin/api/clients/${tenant.clientId}`, { cookie });
    expect(res.body.events_last_24h).toEqual({ count: EVENT_COUNT_CAP, capped: true });
  });

  it('404 for a client that does not exist', async () => {
    const res = await call(app, 'GET', '/admin/api/clients/no_such_client', { cookie });
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

describe('POST /admin/api/clients/:id/deactivate', () => {
  it("stops the client's keys on the ingest API within a second, and audits it", async () => {
    const tenant = await createTenant(db.sql, 'agent', 'doomed');
    expect((await postLogs(stack.baseUrl, tenant.key, event())).status).toBe(202); // cached by ingest now
    const res = await call(app, 'POST', `/admin/api/clients/${tenant.clientId}/deactivate`, { cookie }, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: tenant.clientId, status: 'inactive', announced: true });
    const refused = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, tenant.key, event());
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      "the deactivated client's key to be refused",
    );
    expect(refused.body.error).toBe('client_inactive');
    const [audit] = await db.sql`select * from admin_audit where action = 'client.deactivate' and target = ${`client:${tenant.clientId}`}`;
    expect(audit).toMatchObject({ actor: 'ops' });
    // and the dashboard's list shows it
    const list = await call(app, 'GET', '/admin/api/clients', { cookie });
    expect(list.body.data.find((c: { id: string }) => c.id === tenant.clientId).status).toBe('inactive');
  });

  it("POST …/activate brings a deactivated client's keys back within a second, audited; revoked keys stay revoked", async () => {
    const tenant = await createTenant(db.sql, 'agent', 'revived');
    const revoked = await createTenant(db.sql, 'agent', 'revived_other');
    expect((await call(app, 'POST', `/admin/api/clients/${tenant.clientId}/deactivate`, { cookie }, {})).status).toBe(200);
    await waitFor(async () => (await postLogs(stack.baseUrl, tenant.key, event())).status === 401, ANNOUNCED_WITHIN_MS, 'the key to be refused');
    const res = await call(app, 'POST', `/admin/api/clients/${tenant.clientId}/activate`, { cookie }, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: tenant.clientId, status: 'active', announced: true });
    await waitFor(async () => (await postLogs(stack.baseUrl, tenant.key, event())).status === 202, ANNOUNCED_WITHIN_MS, 'the key to work again');
    const [audit] = await db.sql`select * from admin_audit where action = 'client.activate' and target = ${`client:${tenant.clientId}`}`;
    expect(audit).toMatchObject({ actor: 'ops' });
    // a key revoked while its client was inactive is not brought back
    await db.sql`update api_keys set revoked_at = now() where id = ${revoked.record.id}`;
    await call(app, 'POST', `/admin/api/clients/${revoked.clientId}/deactivate`, { cookie }, {});
    await call(app, 'POST', `/admin/api/clients/${revoked.clientId}/activate`, { cookie }, {});
    const still = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, revoked.key, event());
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the revoked key to stay refused',
    );
    expect(still.body.error).toBe('api_key_revoked');
    expect((await call(app, 'POST', '/admin/api/clients/ghost/activate', { cookie }, {})).status).toBe(404);
  });

  it('404 for a client that does not exist, with no audit row', async () => {
    const res = await call(app, 'POST', '/admin/api/clients/ghost/deactivate', { cookie }, {});
    expect(res.status).toBe(404);
    expect(await db.sql`select 1 from admin_audit where target = 'client:ghost'`).toHaveLength(0);
  });
});

describe('PATCH /admin/api/clients/:id', () => {
  it('sets retention (ingest applies it at once) and limit overrides (ingest re-reads them), audited', async () => {
    const t = await createTenant(db.sql, 'agent', 'patched');
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
    expect((await postLogs(stack.baseUrl, t.key, event({ executed_at: tenDaysAgo }))).status).toBe(202);

    const res = await call(
      app,
      'PATCH',
      `/admin/api/clients/${t.clientId}`,
      { cookie },
      { retention_days: 7, limits: { events_per_day: 1234, request_burst: null } },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: t.clientId, retention_days: 7, limits: { eventsPerDay: 1234 }, announced: true });
    // the key cache everywhere forgot the old retention: a 10-day-old event is now refused
    const refused = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, t.key, event({ executed_at: tenDaysAgo }));
        return r.status === 400 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the new retention at ingest',
    );
    expect(refused.body.details[0].field).toBe('executed_at');
    const [{ limits }] = (await db.sql`select row_to_json(l) as limits from client_limits l where client_id = ${t.clientId}`) as unknown as [
      { limits: Record<string, unknown> },
    ];
    expect(limits).toMatchObject({ events_per_day: 1234, request_burst: null });
    const [audit] = await db.sql`select * from admin_audit where action = 'client.update' and target = ${`client:${t.clientId}`}`;
    expect(audit).toMatchObject({ actor: 'ops', details: { retention_days: 7 } });
  });

  it('answers 404 for an unknown client and 400 naming each bad field', async () => {
    expect((await call(app, 'PATCH', '/admin/api/clients/nobody', { cookie }, { retention_days: 5 })).status).toBe(404);
    const bad = await call(app, 'PATCH', '/admin/api/clients/nobody', { cookie }, { retention_days: 0, limits: { events_per_day: -1, bogus: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { field?: string }) => d.field)).toEqual(expect.arrayContaining(['retention_days', 'limits.events_per_day']));
  });
});
