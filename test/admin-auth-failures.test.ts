// GET /admin/api/usage/auth-failures: failed authentications by address (admin
// sign-ins included) and by key prefix, most first, within the range.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant } from './support/stack.js';

let db: TestDatabase;
let app: AdminTestApp;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

async function failure(address: string, reason: string, prefix: string | null, agoMs = 60_000): Promise<void> {
  await db.sql`insert into auth_failures (occurred_at, address, key_prefix, reason) values (${new Date(Date.now() - agoMs)}, ${address}, ${prefix}, ${reason})`;
}

describe('GET /admin/api/usage/auth-failures', () => {
  it('splits the range’s failures by address and by key prefix, most first, with reasons and the key’s client', async () => {
    const t = await createTenant(db.sql, 'agent', 'af');
    for (let i = 0; i < 4; i++) await failure('203.0.113.9', 'wrong_secret', t.record.prefix);
    await failure('203.0.113.9', 'malformed_key', null);
    await failure('198.51.100.1', 'unknown_key', 'clk_AAAAAAAAAAAA');
    await failure('192.0.2.50', 'api_key_required', null, 3 * 86_400_000); // outside the default 24 h
    await db.sql`insert into admin_login_failures (username, ip) values ('ops', '198.51.100.1'), ('root', '198.51.100.1')`;

    const res = await call(app, 'GET', '/admin/api/usage/auth-failures', { cookie });
    expect(res.status).toBe(200);
    expect(res.body.by_address).toEqual([
      { address: '203.0.113.9', failures: 5, last_at: expect.any(String), reasons: ['malformed_key', 'wrong_secret'] },
      { address: '198.51.100.1', failures: 3, last_at: expect.any(String), reasons: ['admin_sign_in', 'unknown_key'] },
    ]);
    expect(res.body.by_key_prefix).toEqual([
      { key_prefix: t.record.prefix, client_id: t.clientId, failures: 4, last_at: expect.any(String), reasons: ['wrong_secret'] },
      { key_prefix: 'clk_AAAAAAAAAAAA', client_id: null, failures: 1, last_at: expect.any(String), reasons: ['unknown_key'] },
    ]);

    const week = await call(app, 'GET', `/admin/api/usage/auth-failures?from=${new Date(Date.now() - 7 * 86_400_000).toISOString()}&limit=1`, { cookie });
    expect(week.body.by_address).toHaveLength(1);
    expect(week.body.by_address[0].address).toBe('203.0.113.9');
    const all = await call(app, 'GET', `/admin/api/usage/auth-failures?from=${new Date(Date.now() - 7 * 86_400_000).toISOString()}`, { cookie });
    expect(all.body.by_address.map((a: { address: string }) => a.address)).toContain('192.0.2.50');
  });

  it('401 without a session, 400 for bad ranges or limits', async () => {
    expect((await call(app, 'GET', '/admin/api/usage/auth-failures')).status).toBe(401);
    const now = Date.now();
    for (const q of [
      'limit=0',
      'limit=101',
      'from=yesterday',
      `from=${new Date(now).toISOString()}&to=${new Date(now - 1000).toISOString()}`,
      `from=${new Date(now - 401 * 86_400_000).toISOString()}&to=${new Date(now).toISOString()}`,
      'from=0000-01-01T00:00:00Z',
      'x=1',
    ]) {
      const res = await call(app, 'GET', `/admin/api/usage/auth-failures?${q}`, { cookie });
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
  });
});
