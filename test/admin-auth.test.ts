// The admin API's door, checked on every route: no credentials, a tenant key,
// a wrong, expired or signed-out session, a revoked admin key; then the two
// ways in (session cookie, admin key) and the CSRF rule for cookies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKeyEverywhere } from '@central-logger/keys';
import { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, REDIS_URL, waitFor } from './support/stack.js';
import { ANNOUNCED_WITHIN_MS, call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';

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

// every admin API route but login, with a body where it takes one
const ROUTES: Array<[string, string, unknown?]> = [
  ['GET', '/admin/api/session'],
  ['POST', '/admin/api/logout', {}],
  ['GET', '/admin/api/clients'],
  ['POST', '/admin/api/clients', { id: 'never_created' }],
  ['GET', '/admin/api/clients/anything'],
  ['POST', '/admin/api/clients/anything/deactivate', {}],
  ['POST', '/admin/api/clients/anything/activate', {}],
  ['GET', '/admin/api/keys'],
  ['POST', '/admin/api/keys', { name: 'never', role: 'admin' }],
  ['DELETE', '/admin/api/keys/key_x'],
  ['PATCH', '/admin/api/keys/key_x', { expires_at: null }],
  ['GET', '/admin/api/audit'],
];

describe('admin API authentication, on every route', () => {
  it.each(ROUTES)('%s %s: 401 without credentials', async (method, path, body) => {
    const res = await call(app, method, path, {}, body);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('api_key_required');
    expect(res.body.request_id).toMatch(/^req_/);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it.each(ROUTES)('%s %s: 403 for a tenant key of any role', async (method, path, body) => {
    for (const role of ['agent', 'reader', 'owner'] as const) {
      const tenant = await createTenant(db.sql, role);
      const res = await call(app, method, path, { key: tenant.key }, body);
      expect(res.status, role).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
    }
  });

  it.each(ROUTES)('%s %s: 401 for a made-up, expired or signed-out session', async (method, path, body) => {
    const madeUp = await call(app, method, path, { cookie: 'cl_admin_session=not-a-session' }, body);
    expect(madeUp.status).toBe(401);
    expect(madeUp.body.error).toBe('invalid_credentials');

    const expired = await signIn(app);
    await db.sql`update admin_sessions set expires_at = now() - interval '1 second' where revoked_at is null and expires_at > now()`;
    expect((await call(app, method, path, { cookie: expired }, body)).status).toBe(401);

    const signedOut = await signIn(app);
    expect((await call(app, 'POST', '/admin/api/logout', { cookie: signedOut }, {})).status).toBe(204);
    expect((await call(app, method, path, { cookie: signedOut }, body)).status).toBe(401);
  });

  it.each(ROUTES)('%s %s: 401 for a malformed or unknown bearer key', async (method, path, body) => {
    for (const key of ['garbage', `clk_AAAAAAAAAAAA_${'a'.repeat(49)}`]) {
      const res = await call(app, method, path, { key }, body);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_api_key');
    }
  });
});

describe('the ways in', () => {
  it('admits a session cookie and an admin key, and says who is acting', async () => {
    const cookie = await signIn(app);
    const bySession = await call(app, 'GET', '/admin/api/session', { cookie });
    expect(bySession.status).toBe(200);
    expect(bySession.body).toMatchObject({ actor: 'ops', via: 'session' });
    expect(new Date(bySession.body.expires_at).getTime()).toBeGreaterThan(Date.now());

    const { key, record } = await createAdminKey(db.sql);
    const byKey = await call(app, 'GET', '/admin/api/session', { key });
    expect(byKey.status).toBe(200);
    expect(byKey.body).toEqual({ actor: record.prefix, via: 'key', expires_at: null });
    // also as X-API-Key, like the ingest API
    expect((await call(app, 'GET', '/admin/api/clients', {}, undefined, { 'x-api-key': key })).status).toBe(200);
  });

  it('refuses a revoked admin key within a second, and says so', async () => {
    const { key, record } = await createAdminKey(db.sql, 'to revoke');
    expect((await call(app, 'GET', '/admin/api/clients', { key })).status).toBe(200); // now cached
    const redis = new Redis(REDIS_URL);
    try {
      await revokeKeyEverywhere(db.sql, redis, record.id);
    } finally {
      redis.disconnect();
    }
    const res = await waitFor(
      async () => {
        const r = await call(app, 'GET', '/admin/api/clients', { key });
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'revoked admin key to be refused',
    );
    expect(res.body.error).toBe('api_key_revoked');
  });

  it('a tenant key is refused even with a valid session cookie beside it', async () => {
    const cookie = await signIn(app);
    const tenant = await createTenant(db.sql, 'owner');
    const res = await call(app, 'GET', '/admin/api/clients', { cookie, key: tenant.key });
    expect(res.status).toBe(403);
  });
});

describe('CSRF: cookie-authenticated state changes must be JSON', () => {
  it.each([
    ['text/plain', 'POST', '/admin/api/clients', '{"id":"csrf_plain"}'],
    ['application/x-www-form-urlencoded', 'POST', '/admin/api/clients', 'id=csrf_form'],
    ['multipart/form-data; boundary=x', 'POST', '/admin/api/keys', '--x--'],
    [undefined, 'DELETE', '/admin/api/keys/key_x', undefined],
    ['text/plain', 'POST', '/admin/api/logout', ''],
  ])('refuses %s on %s %s with 415 and changes nothing', async (type, method, path, body) => {
    const cookie = await signIn(app);
    const res = await fetch(`${app.baseUrl}${path}`, {
      method,
      headers: { cookie, ...(type ? { 'content-type': type } : {}) },
      ...(body !== undefined ? { body } : {}),
    });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { error: string }).error).toBe('unsupported_media_type');
    expect(await db.sql`select 1 from clients where id like 'csrf_%'`).toHaveLength(0);
    // the session was not signed out either
    expect((await call(app, 'GET', '/admin/api/session', { cookie })).status).toBe(200);
  });

  it('a bearer key may revoke without a body (browsers never send it on their own)', async () => {
    const { key } = await createAdminKey(db.sql, 'automation');
    const tenant = await createTenant(db.sql, 'agent');
    const res = await fetch(`${app.baseUrl}/admin/api/keys/${tenant.record.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
  });
});

describe('failed admin keys feed the alert rules', () => {
  it('records a wrong admin key in auth_failures by prefix, as ingest does', async () => {
    const { key, record } = await createAdminKey(db.sql, 'recorded');
    const wrong = `${key.slice(0, record.prefix.length + 1)}${'A'.repeat(key.length - record.prefix.length - 1)}`;
    const res = await call(app, 'GET', '/admin/api/clients', { key: wrong });
    expect(res.status).toBe(401);
    const row = await waitFor(async () => (await db.sql`select * from auth_failures where key_prefix = ${record.prefix}`)[0], 10_000, 'a recorded failure');
    expect(row.address).toBeTruthy();
  });
});
