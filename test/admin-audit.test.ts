// The audit log: one row per state-changing admin action, listed newest first, paginated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN_USER, call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('GET /admin/api/audit', () => {
  it('records every state-changing action, newest first: who, what, target, from where', async () => {
    await call(app, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: 'a wrong password' });
    const cookie = await signIn(app);
    await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'audited' });
    const key = await call(app, 'POST', '/admin/api/keys', { cookie }, { name: 'k', role: 'agent', client_id: 'audited' });
    await call(app, 'PATCH', `/admin/api/keys/${key.body.id}`, { cookie }, { expires_at: new Date(Date.now() + 86_400_000).toISOString() });
    await call(app, 'DELETE', `/admin/api/keys/${key.body.id}`, { cookie }, {});
    await call(app, 'POST', '/admin/api/clients/audited/deactivate', { cookie }, {});
    // reads are not audited
    await call(app, 'GET', '/admin/api/clients', { cookie });
    await call(app, 'GET', '/admin/api/keys', { cookie });
    const res = await call(app, 'GET', '/admin/api/audit', { cookie });
    await call(app, 'POST', '/admin/api/logout', { cookie }, {});

    expect(res.status).toBe(200);
    expect(res.body.next_cursor).toBeNull();
    expect(res.body.data.map((a: { action: string }) => a.action)).toEqual([
      'client.deactivate',
      'key.revoke',
      'key.expiry',
      'key.issue',
      'client.create',
      'login.success',
      'login.failure',
    ]);
    for (const a of res.body.data) {
      expect(a.ip).toBe('127.0.0.1');
      expect(Date.now() - new Date(a.at).getTime()).toBeLessThan(60_000);
      expect(a.actor).toBe(a.action === 'login.failure' ? 'anonymous' : ADMIN_USER);
    }
    expect(res.body.data[1]).toMatchObject({ target: `key:${key.body.id}`, details: { prefix: key.body.prefix } });
    expect(res.text).not.toContain(key.body.key);
    const [logout] = await db.sql`select * from admin_audit order by id desc limit 1`;
    expect(logout!.action).toBe('logout');
  });

  it('pages with an opaque cursor, newest first, without gaps or repeats', async () => {
    const { key } = await createAdminKey(db.sql, 'pager');
    for (let i = 0; i < 7; i++) await call(app, 'POST', '/admin/api/clients', { key }, { id: `paged_${i}` });
    const all = (await db.sql`select id from admin_audit order by id desc`).map((r) => String(r.id));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(app, 'GET', `/admin/api/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.data.map((a: { id: string }) => a.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=201', 'limit'],
    ['limit=abc', 'limit'],
    ['cursor=%21%21', 'cursor'],
    [`cursor=${Buffer.from('1; drop').toString('base64url')}`, 'cursor'],
  ])('400 with details for ?%s', async (query, field) => {
    const { key } = await createAdminKey(db.sql, 'bad query');
    const res = await call(app, 'GET', `/admin/api/audit?${query}`, { key });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details[0].field).toBe(field);
  });
});
