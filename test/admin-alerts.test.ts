// GET /admin/api/alerts and POST /admin/api/alerts/:id/ack: listed newest first
// with evidence, filtered, paged; acknowledging is audited and idempotent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertAlert } from '@central-logger/alerts';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN_USER, call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant } from './support/stack.js';

let db: TestDatabase;
let app: AdminTestApp;
let adminKey: string;
let ids: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  adminKey = (await createAdminKey(db.sql)).key;
  for (let i = 0; i < 5; i++) {
    const { alert } = await upsertAlert(db.sql, {
      rule: 'auth_failures_address',
      subject: `10.0.0.${i}`,
      windowStart: new Date(Date.UTC(2026, 0, 1)),
      severity: 'warning',
      summary: `spike ${i}`,
      evidence: { address: `10.0.0.${i}`, failures: 20 + i },
    });
    ids.push(alert.id);
  }
  ids = ids.reverse(); // newest first
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('admin alerts API', () => {
  it('lists alerts newest first with their evidence, paged by an opaque cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(app, 'GET', `/admin/api/alerts?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: adminKey });
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((a: { id: string }) => a.id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(ids);
    const first = await call(app, 'GET', '/admin/api/alerts?limit=1', { key: adminKey });
    expect(first.body.data[0]).toMatchObject({
      rule: 'auth_failures_address',
      subject: '10.0.0.4',
      status: 'open',
      severity: 'warning',
      evidence: { failures: 24 },
    });
  });

  it('acknowledges an alert: audited with who and from where, shown as acknowledged; a second ack changes nothing', async () => {
    const cookie = await signIn(app);
    const res = await call(app, 'POST', `/admin/api/alerts/${ids[0]}/ack`, { cookie }, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: ids[0], status: 'acknowledged', acknowledged_by: ADMIN_USER });
    const again = await call(app, 'POST', `/admin/api/alerts/${ids[0]}/ack`, { key: adminKey }, {});
    expect(again.body).toMatchObject({ status: 'acknowledged', acknowledged_by: ADMIN_USER });
    const audit = await db.sql`select actor, action, target, ip from admin_audit where action = 'alert.ack'`;
    expect(audit).toEqual([{ actor: ADMIN_USER, action: 'alert.ack', target: `alert:${ids[0]}`, ip: '127.0.0.1' }]);

    const open = await call(app, 'GET', '/admin/api/alerts?status=open', { key: adminKey });
    expect(open.body.data.map((a: { id: string }) => a.id)).toEqual(ids.slice(1));
    const acked = await call(app, 'GET', '/admin/api/alerts?status=acknowledged', { key: adminKey });
    expect(acked.body.data.map((a: { id: string }) => a.id)).toEqual([ids[0]]);
  });

  it('answers 404 for an unknown alert and 400 for bad filters or cursors', async () => {
    expect((await call(app, 'POST', '/admin/api/alerts/alr_nope/ack', { key: adminKey }, {})).status).toBe(404);
    for (const q of ['status=closed', 'rule=nope', 'limit=0', 'cursor=bm9wZQ', 'extra=1']) {
      const res = await call(app, 'GET', `/admin/api/alerts?${q}`, { key: adminKey });
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
  });

  it('needs an admin: no credentials 401, a tenant key 403, a cookie without JSON 415', async () => {
    const tenant = await createTenant(db.sql, 'owner', 'alerts_sec');
    expect((await call(app, 'GET', '/admin/api/alerts')).status).toBe(401);
    expect((await call(app, 'GET', '/admin/api/alerts', { key: tenant.key })).status).toBe(403);
    expect((await call(app, 'POST', `/admin/api/alerts/${ids[1]}/ack`, { key: tenant.key }, {})).status).toBe(403);
    const cookie = await signIn(app);
    expect((await call(app, 'POST', `/admin/api/alerts/${ids[1]}/ack`, { cookie }, 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    const [row] = await db.sql`select acknowledged_at from alerts where id = ${ids[1]!}`;
    expect(row!.acknowledged_at).toBeNull();
  });
});
