// The console's sessions: POST/DELETE /api/v1/auth/session, the cookie on
// every tenant route, CSRF refusal, the session ending with its user, key or
// client, the owners' users API, and the console's files.
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyVerifier, revokeKeyEverywhere, setClientActiveEverywhere } from '@central-logger/keys';
import { createSql } from '@central-logger/db';
import { createTenantUser, type UserRole } from '@central-logger/tenant-auth';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api, type ApiResponse } from './support/keys.js';
import { ANNOUNCED_WITHIN_MS } from './support/admin.js';
import { createTenant, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';
import { openTail, type TailClient } from './support/sse.js';

const PASSWORD = 'a long tenant passphrase';
const CONSOLE_SRC = new URL('../apps/ingest-api/console/src/', import.meta.url);
let db: TestDatabase;
let stack: Stack;
let redis: Redis;
let acme: Tenant;
let globex: Tenant;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { TENANT_LOGIN_MAX_FAILURES_PER_IP: '1000' }, { worker: false });
  redis = new Redis(REDIS_URL);
  acme = await createTenant(db.sql, 'owner', 'acme');
  globex = await createTenant(db.sql, 'owner', 'globex');
  await seedLogs(db.sql, [logRow(acme.clientId, { message: 'acme log' }), logRow(globex.clientId, { message: 'globex log' })]);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

async function user(role: UserRole, clientId = acme.clientId) {
  const username = `cuser${++n}_${role}`;
  return createTenantUser(db.sql, { clientId, username, role, password: PASSWORD, bcryptCost: 4, createdBy: 'test' });
}

const SAME_ORIGIN = () => ({ origin: stack.baseUrl });
const withCookie = (cookie: string, extra: Record<string, string> = {}) => ({ cookie, ...extra });
const call = (method: string, path: string, cookie: string, body?: unknown, extra: Record<string, string> = {}) =>
  api(stack.baseUrl, method, path, undefined, body, withCookie(cookie, extra));

/** Signs in; returns the answer and the `name=value` part of its cookie. */
async function signIn(body: unknown, headers: Record<string, string> = {}): Promise<{ res: ApiResponse; cookie: string; setCookie: string }> {
  const res = await api(stack.baseUrl, 'POST', '/api/v1/auth/session', undefined, body, headers);
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { res, cookie: setCookie.split(';')[0] ?? '', setCookie };
}
async function userSession(role: UserRole, clientId = acme.clientId) {
  const u = await user(role, clientId);
  const s = await signIn({ username: u.username, password: PASSWORD });
  expect(s.res.status).toBe(201);
  return { user: u, cookie: s.cookie };
}

describe('POST /api/v1/auth/session', () => {
  it('with a user: an httpOnly, SameSite=Strict cookie holding only an opaque id; the session lives in Redis under its digest', async () => {
    const u = await user('reader');
    const { res, cookie, setCookie } = await signIn({ username: u.username, password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ via: 'session', role: 'reader', client_id: acme.clientId, user: { id: u.id, username: u.username } });
    expect(JSON.stringify(res.body)).not.toMatch(/access_token|cs1_|eyJ/);
    expect(setCookie).toMatch(/^cl_session=cs1_[A-Za-z0-9_-]{43}; Path=\/; Expires=[^;]+; Max-Age=28[0-8]\d\d; HttpOnly; SameSite=Strict$/);
    const id = cookie.slice('cl_session='.length);
    const stored = await redis.keys(`${stack.env.QUEUE_PREFIX}:console-session:*`);
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.join()).not.toContain(id);
    const values = await Promise.all(stored.map((k) => redis.get(k)));
    expect(values.join()).not.toContain(id);
    expect(values.join()).not.toContain(PASSWORD);
    const ttl = await redis.pttl(stored[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(8 * 3_600_000);
    const [audit] = await db.sql`select * from admin_audit where action = 'tenant_login.success' and target = ${`tenant_user:${u.id}`}`;
    expect(audit!.details).toMatchObject({ via: 'session' });
  });

  it('the cookie authenticates the tenant routes, and auth/me names the session, never its id', async () => {
    const { user: u, cookie } = await userSession('reader');
    const logs = await call('GET', '/api/v1/logs', cookie);
    expect(logs.status).toBe(200);
    expect(logs.body.data.map((r: { message: string }) => r.message)).toEqual(['acme log']);
    expect((await call('GET', '/api/v1/logs/histogram', cookie)).status).toBe(200);
    expect((await call('GET', '/api/v1/limits', cookie)).status).toBe(200);
    const me = await call('GET', '/api/v1/auth/me', cookie);
    expect(me.body).toMatchObject({ via: 'session', role: 'reader', client_id: acme.clientId, user: { id: u.id }, session: { kind: 'user' } });
    expect(me.body.session.id).toMatch(/^ses_[0-9a-f]{16}$/);
    expect(JSON.stringify(me.body)).not.toContain(cookie.slice('cl_session='.length));
  });

  it('with a pasted reader key: a session that reads but cannot manage keys; the key itself is kept nowhere', async () => {
    const reader = await createTenant(db.sql, 'reader', 'keyread');
    const { res, cookie } = await signIn({ api_key: reader.key });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ via: 'api_key', role: 'reader', client_id: reader.clientId, key: { prefix: reader.record.prefix } });
    expect(JSON.stringify(res.body)).not.toContain(reader.key);
    const values = await Promise.all((await redis.keys(`${stack.env.QUEUE_PREFIX}:console-session:*`)).map((k) => redis.get(k)));
    expect(values.join()).not.toContain(reader.key);
    expect((await call('GET', '/api/v1/logs', cookie)).status).toBe(200);
    expect((await call('GET', '/api/v1/auth/me', cookie)).body).toMatchObject({
      via: 'api_key',
      role: 'reader',
      key: { prefix: reader.record.prefix },
      session: { kind: 'key' },
    });
    const keys = await call('GET', '/api/v1/keys', cookie);
    expect(keys.status).toBe(403);
    expect(keys.body.error).toBe('insufficient_scope');
    expect((await call('GET', '/api/v1/users', cookie)).status).toBe(403);
  });

  it('an owner key session manages keys (same origin)', async () => {
    const { cookie } = await signIn({ api_key: acme.key });
    expect((await call('GET', '/api/v1/keys', cookie)).status).toBe(200);
    const created = await call('POST', '/api/v1/keys', cookie, { name: 'from the console', role: 'agent' }, SAME_ORIGIN());
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^clk_/);
  });

  it('refuses agent keys, wrong keys, wrong passwords and bad bodies without a cookie', async () => {
    const agent = await createTenant(db.sql, 'agent', 'agentonly');
    const cases: Array<[unknown, number, string]> = [
      [{ api_key: agent.key }, 403, 'insufficient_scope'],
      [{ api_key: `${acme.key.slice(0, -3)}xyz` }, 401, 'invalid_api_key'],
      [{ api_key: 'garbage' }, 401, 'invalid_api_key'],
      [{ username: 'nobody_here', password: 'wrong password!' }, 401, 'invalid_credentials'],
      [{ username: 'a', password: 'b', api_key: 'c' }, 400, 'validation_failed'],
      [{ username: 'nul\u0000name', password: 'x' }, 400, 'validation_failed'],
      [[], 400, 'validation_failed'],
    ];
    for (const [body, status, error] of cases) {
      const { res, setCookie } = await signIn(body);
      expect([res.status, res.body.error]).toEqual([status, error]);
      expect(setCookie).toBe('');
    }
  });

  it('is refused when a browser sends it from another site (login CSRF)', async () => {
    const u = await user('reader');
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }] as Array<Record<string, string>>) {
      const { res, setCookie } = await signIn({ username: u.username, password: PASSWORD }, headers);
      expect([res.status, res.body.error]).toEqual([403, 'cross_origin_refused']);
      expect(setCookie).toBe('');
    }
    expect((await signIn({ username: u.username, password: PASSWORD }, { 'sec-fetch-site': 'same-origin' })).res.status).toBe(201);
  });

  it('counts under the sign-in limits of /api/v1/auth/login, also in a parallel burst', async () => {
    const u = await user('reader');
    for (let i = 0; i < 5; i++)
      expect((await api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username: u.username, password: `wrong ${i} password` })).status).toBe(401);
    const limited = await signIn({ username: u.username, password: PASSWORD });
    expect(limited.res.status).toBe(429);
    expect(limited.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.setCookie).toBe('');

    const v = await user('reader');
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => signIn({ username: v.username, password: `wrong password ${i}` })));
    const statuses = burst.map((b) => b.res.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
  });

  it('a pasted key counts too: wrong secrets for one key prefix run out of sign-ins (429) before more hashing', async () => {
    const victim = await createTenant(db.sql, 'reader', 'guessed');
    const wrong = (i: number) => `${victim.key.slice(0, 17)}${'x'.repeat(victim.key.length - 21)}${String(i).padStart(4, '0')}`;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn({ api_key: wrong(i) })).res.status);
    expect(statuses.slice(0, 5).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
  });

  it('refuses hostile bodies with a 4xx: too large, too deep, not JSON', async () => {
    expect((await signIn({ username: 'x'.repeat(10_000), password: 'y' })).res.status).toBe(413);
    expect((await signIn(`${'['.repeat(100)}${']'.repeat(100)}`)).res.status).toBe(400);
    expect((await signIn('username=a&password=b')).res.status).toBe(400);
    const burst = await Promise.all(Array.from({ length: 30 }, () => signIn({ api_key: 'clk_notakey' })));
    expect(burst.every((b) => b.res.status === 401 || b.res.status === 429)).toBe(true);
  });

  it('a garbage, forged or oversized cookie is 401, never a 500', async () => {
    for (const cookie of ['cl_session=nope', `cl_session=cs1_${'A'.repeat(43)}`, `cl_session=${'x'.repeat(6000)}`, 'cl_session=', 'cl_session=cs1_%00']) {
      const res = await call('GET', '/api/v1/logs', cookie);
      expect([res.status, res.body.error]).toEqual([401, 'invalid_credentials']);
    }
    // no cookie and no key: the key is asked for, as before
    expect((await api(stack.baseUrl, 'GET', '/api/v1/logs')).body.error).toBe('api_key_required');
  });

  it('a key sent with the request wins over a cookie', async () => {
    const { cookie } = await userSession('reader');
    const reader = await createTenant(db.sql, 'reader', 'explicit');
    const me = await api(stack.baseUrl, 'GET', '/api/v1/auth/me', reader.key, undefined, withCookie(cookie));
    expect(me.body).toMatchObject({ via: 'api_key', client_id: reader.clientId });
    expect(me.body.session).toBeUndefined();
  });
});

describe('CSRF: a cookie-authenticated request that changes state must come from the console', () => {
  it('refuses a missing or foreign Origin and cross-site fetch metadata; accepts same origin', async () => {
    const { cookie } = await userSession('owner');
    const body = { name: 'csrf', role: 'agent' };
    for (const extra of [
      {},
      { origin: 'https://evil.example' },
      { 'sec-fetch-site': 'cross-site', origin: stack.baseUrl },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'null' },
    ] as Array<Record<string, string>>) {
      const res = await call('POST', '/api/v1/keys', cookie, body, extra);
      expect([res.status, res.body.error]).toEqual([403, 'cross_origin_refused']);
    }
    expect(await db.sql`select 1 from api_keys where client_id = ${acme.clientId} and name = 'csrf'`).toHaveLength(0);
    expect((await call('POST', '/api/v1/keys', cookie, body, { 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await call('POST', '/api/v1/keys', cookie, body, SAME_ORIGIN())).status).toBe(201);
    // a GET needs neither
    expect((await call('GET', '/api/v1/keys', cookie)).status).toBe(200);
    // ingest with a cookie is a state change too
    expect(
      (
        await call(
          'POST',
          '/api/v1/logs',
          cookie,
          { environment: 'e', executed_at: new Date().toISOString(), status: 'OK' },
          { origin: 'https://evil.example' },
        )
      ).status,
    ).toBe(403);
  });
});

describe('DELETE /api/v1/auth/session (sign-out)', () => {
  it('ends the session server-side and clears the cookie', async () => {
    const { cookie } = await userSession('reader');
    const refused = await call('DELETE', '/api/v1/auth/session', cookie, undefined, { origin: 'https://evil.example' });
    expect([refused.status, refused.body.error]).toEqual([403, 'cross_origin_refused']);
    expect((await call('GET', '/api/v1/logs', cookie)).status).toBe(200);
    const out = await call('DELETE', '/api/v1/auth/session', cookie, undefined, SAME_ORIGIN());
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^cl_session=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; SameSite=Strict$/);
    // the old cookie, replayed, is dead
    const after = await call('GET', '/api/v1/logs', cookie);
    expect([after.status, after.body.error]).toEqual([401, 'invalid_credentials']);
    // signing out again still clears the cookie
    expect((await call('DELETE', '/api/v1/auth/session', cookie, undefined, SAME_ORIGIN())).status).toBe(204);
    expect((await api(stack.baseUrl, 'DELETE', '/api/v1/auth/session')).status).toBe(400);
  });
});

describe('a session ends within a second when', () => {
  const endsSoon = (cookie: string) =>
    waitFor(
      async () => {
        const r = await call('GET', '/api/v1/logs', cookie);
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the session to end',
    );

  it('its user is deactivated by an owner', async () => {
    const { cookie } = await userSession('reader');
    const { user: owner, cookie: ownerCookie } = await userSession('owner');
    expect((await call('GET', '/api/v1/logs', cookie)).status).toBe(200); // its state is cached now
    const reader = (await call('GET', '/api/v1/auth/me', cookie)).body.user.id as string;
    const res = await call('DELETE', `/api/v1/users/${reader}`, ownerCookie, undefined, SAME_ORIGIN());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: reader, is_active: false });
    const started = Date.now();
    const ended = await endsSoon(cookie);
    expect(Date.now() - started).toBeLessThan(ANNOUNCED_WITHIN_MS);
    expect(ended.body.message).toMatch(/deactivated/);
    const [audit] = await db.sql`select * from admin_audit where action = 'tenant_user.deactivate' and target = ${`tenant_user:${reader}`}`;
    expect(audit).toMatchObject({ actor: `user:${owner.username}` });
  });

  it('its key is revoked', async () => {
    const reader = await createTenant(db.sql, 'reader', 'revoked');
    const { cookie } = await signIn({ api_key: reader.key });
    expect((await call('GET', '/api/v1/logs', cookie)).status).toBe(200);
    const owner = await createTenant(db.sql, 'owner', 'x'); // another tenant's owner cannot
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${reader.record.id}`, owner.key)).status).toBe(404);
    expect((await call('GET', '/api/v1/logs', cookie)).status).toBe(200);
    // the tenant's own owner key, added to it, can
    const { createKey } = await import('@central-logger/keys');
    const own = await createKey(db.sql, { name: 'owner', role: 'owner', clientId: reader.clientId, bcryptCost: 4 });
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${reader.record.id}`, own.key)).status).toBe(200);
    const ended = await endsSoon(cookie);
    expect(ended.body.error).toBe('api_key_revoked');
  });

  it('its client is deactivated (user and key sessions alike)', async () => {
    const other = await createTenant(db.sql, 'reader', 'leaving');
    const { cookie: userCookie } = await userSession('reader', other.clientId);
    const { cookie: keyCookie } = await signIn({ api_key: other.key });
    for (const c of [userCookie, keyCookie]) expect((await call('GET', '/api/v1/logs', c)).status).toBe(200);
    expect((await setClientActiveEverywhere(db.sql, redis, other.clientId, false)).announced).toBe(true);
    for (const c of [userCookie, keyCookie]) expect((await endsSoon(c)).body.error).toBe('client_inactive');
  });

  it("its user's role is changed (they sign in again with the new role)", async () => {
    const { user: u, cookie } = await userSession('owner');
    const { cookie: ownerCookie } = await userSession('owner');
    expect((await call('GET', '/api/v1/keys', cookie)).status).toBe(200);
    const res = await call('PATCH', `/api/v1/users/${u.id}`, ownerCookie, { role: 'reader' }, SAME_ORIGIN());
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: u.id, role: 'reader' });
    expect((await endsSoon(cookie)).body.message).toMatch(/role has changed/);
    const again = await signIn({ username: u.username, password: PASSWORD });
    expect(again.res.body.role).toBe('reader');
    expect((await call('GET', '/api/v1/keys', again.cookie)).status).toBe(403);
  });
});

describe('while Postgres is away', () => {
  it("a key session's state that cannot be read is 503 unavailable, never a 500", async () => {
    const away = createSql('postgres://postgres@127.0.0.1:1/nowhere', { max: 1, applicationName: 'console-session-test' });
    const verifier = new KeyVerifier(away, { readTimeoutMs: 2_000 });
    try {
      await expect(verifier.resumeKey(acme.record.id, '127.0.0.1')).rejects.toMatchObject({ code: 'unavailable', status: 503 });
    } finally {
      await verifier.close();
      await away.end({ timeout: 1 });
    }
  });
});

describe('a live tail opened with a console session', () => {
  const errorOf = (t: TailClient) => t.messages.find((m) => m.event === 'error');
  it('streams with the cookie alone, and ends when the key behind the session is revoked or the user deactivated', async () => {
    const reader = await createTenant(db.sql, 'reader', 'tailkey');
    const { cookie: keyCookie } = await signIn({ api_key: reader.key });
    const { user: u, cookie: userCookie } = await userSession('reader', reader.clientId);
    const byKey = await openTail(stack.baseUrl, undefined, {}, withCookie(keyCookie));
    const byUser = await openTail(stack.baseUrl, undefined, {}, withCookie(userCookie));
    for (const s of [byKey, byUser]) {
      expect(s.status).toBe(200);
      await s.until((m) => m.length >= 1, 10_000, 'the stream to open');
    }
    await revokeKeyEverywhere(db.sql, redis, reader.record.id);
    await byKey.ended;
    expect(JSON.parse(errorOf(byKey)!.data)).toMatchObject({ error: 'api_key_revoked' });
    expect(errorOf(byUser)).toBeUndefined(); // the user's session stands on its own
    const { cookie: ownerCookie } = await userSession('owner', reader.clientId);
    expect((await call('DELETE', `/api/v1/users/${u.id}`, ownerCookie, undefined, SAME_ORIGIN())).status).toBe(200);
    await byUser.ended;
    expect(JSON.parse(errorOf(byUser)!.data)).toMatchObject({ error: 'invalid_credentials' });
    // and a tail without a cookie or key is still refused
    expect((await openTail(stack.baseUrl, undefined)).status).toBe(401);
  });
});

describe('/api/v1/users (owners)', () => {
  it('lists only the tenant’s users, without password hashes', async () => {
    const { cookie } = await userSession('owner');
    await user('reader', globex.clientId);
    const res = await call('GET', '/api/v1/users', cookie);
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeGreaterThan(0);
    for (const u of res.body.data) expect(u.client_id).toBe(acme.clientId);
    expect(JSON.stringify(res.body)).not.toMatch(/password|\$2[aby]\$/);
  });

  it("another tenant's user is 404, unchanged, by id or by name", async () => {
    const { cookie } = await userSession('owner');
    const theirs = await user('reader', globex.clientId);
    for (const id of [theirs.id, theirs.username]) {
      expect((await call('PATCH', `/api/v1/users/${encodeURIComponent(id)}`, cookie, { role: 'owner' }, SAME_ORIGIN())).status).toBe(404);
      expect((await call('DELETE', `/api/v1/users/${encodeURIComponent(id)}`, cookie, undefined, SAME_ORIGIN())).status).toBe(404);
    }
    const [row] = await db.sql`select role, is_active from tenant_users where id = ${theirs.id}`;
    expect(row).toEqual({ role: 'reader', is_active: true });
    // and another tenant's key and log, likewise
    expect((await call('DELETE', `/api/v1/keys/${globex.record.id}`, cookie, undefined, SAME_ORIGIN())).status).toBe(404);
    const [log] = await db.sql`select event_id from workflow_logs where client_id = ${globex.clientId} limit 1`;
    expect((await call('GET', `/api/v1/logs/${log!.event_id}`, cookie)).status).toBe(404);
  });

  it('refuses changing your own role or deactivating yourself, bad roles, and readers', async () => {
    const { user: me, cookie } = await userSession('owner');
    const self = await call('PATCH', `/api/v1/users/${me.id}`, cookie, { role: 'reader' }, SAME_ORIGIN());
    expect([self.status, self.body.error]).toEqual([409, 'conflict']);
    expect((await call('DELETE', `/api/v1/users/${me.id}`, cookie, undefined, SAME_ORIGIN())).status).toBe(409);
    const other = await user('reader');
    for (const body of [{ role: 'admin' }, { role: 'agent' }, { role: 'owner', extra: 1 }, {}, 'x']) {
      expect((await call('PATCH', `/api/v1/users/${other.id}`, cookie, body, SAME_ORIGIN())).status).toBe(400);
    }
    expect((await call('PATCH', `/api/v1/users/${'x'.repeat(5000)}`, cookie, { role: 'owner' }, SAME_ORIGIN())).status).toBe(404);
    const { cookie: readerCookie } = await userSession('reader');
    expect((await call('PATCH', `/api/v1/users/${other.id}`, readerCookie, { role: 'owner' }, SAME_ORIGIN())).status).toBe(403);
    const [audit] = await db.sql`select 1 from admin_audit where action = 'tenant_user.role' and target = ${`tenant_user:${other.id}`}`;
    expect(audit).toBeUndefined();
  });
});

describe('the console', () => {
  it('serves its page, script and style from this origin under a CSP without inline code', async () => {
    for (const path of ['/', '/keys', '/users', '/usage', '/accept']) {
      const res = await fetch(`${stack.baseUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await res.text();
      expect(html).toContain('<script type="module" src="/console/app.js">');
      expect(html).not.toMatch(/<script>|<style>|https?:\/\//);
    }
    const js = await fetch(`${stack.baseUrl}/console/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await js.text();
    expect(code.length).toBeGreaterThan(1000);
    // no key or token in browser storage; logged values are never set as HTML (Preact itself only knows the name)
    expect(/localStorage|sessionStorage|indexedDB/.test(code)).toBe(false);
    for (const file of readdirSync(CONSOLE_SRC)) {
      expect(
        /localStorage|sessionStorage|dangerouslySetInnerHTML|innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(
          readFileSync(new URL(file, CONSOLE_SRC), 'utf8'),
        ),
        file,
      ).toBe(false);
    }
    expect((await fetch(`${stack.baseUrl}/console/app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${stack.baseUrl}/console/../package.json`)).status).toBe(404);
  });
});

describe('in production', () => {
  it('the session cookie is Secure', async () => {
    const prod = await startStack(
      db,
      {
        NODE_ENV: 'production',
        CURSOR_SECRET: 'a production cursor secret of forty chars.',
        KEY_LOOKUP_SECRET: 'a production key lookup secret of 40 chars',
        TENANT_TOKEN_SECRET: 'a production tenant token secret, 40 chars',
      },
      { worker: false },
    );
    try {
      const reader = await createTenant(db.sql, 'reader', 'prod');
      // a process just started may answer 503 (Retry-After) until its Redis connection is ready
      const res = await waitFor(
        async () => {
          const r = await api(prod.baseUrl, 'POST', '/api/v1/auth/session', undefined, { api_key: reader.key });
          return r.status !== 503 && r;
        },
        10_000,
        'the new process to take a sign-in',
      );
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.headers.get('set-cookie')).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await prod.close();
    }
  });
});
