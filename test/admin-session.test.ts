// Sign-in, sign-out and the limits on failed sign-ins.
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adminSchema, ConfigError, loadConfig } from '@central-logger/config';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN_PASSWORD, ADMIN_USER, call, createAdminKey, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '3', ADMIN_LOGIN_MAX_FAILURES_PER_IP: '50', ADMIN_SESSION_TTL: '2h' });
  await createTestAdminUser(db.sql);
});
afterAll(async () => {
  await app?.close();
  await db?.drop();
});

const login = (username: string, password: string, headers: Record<string, string> = {}) =>
  call(app, 'POST', '/admin/api/login', {}, { username, password }, headers);

describe('POST /admin/api/login', () => {
  it('sets an httpOnly, SameSite=Strict, expiring session cookie and records the sign-in', async () => {
    const res = await login(ADMIN_USER, ADMIN_PASSWORD, { 'user-agent': 'vitest-agent' });
    expect(res.status).toBe(200);
    expect(res.body.username).toBe(ADMIN_USER);
    const cookie = res.headers.get('set-cookie')!;
    const token = /^cl_admin_session=([^;]+)/.exec(cookie)![1]!;
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/); // NODE_ENV=test over plain http
    const expires = new Date(/Expires=([^;]+)/.exec(cookie)![1]!).getTime();
    expect(Math.abs(expires - (Date.now() + 2 * 3600_000))).toBeLessThan(60_000);
    expect(res.headers.get('cache-control')).toBe('no-store');

    // the database holds only the token's digest
    const [session] = await db.sql`select * from admin_sessions where id = ${createHash('sha256').update(token).digest('hex')}`;
    expect(session).toMatchObject({ username: ADMIN_USER, ip: '127.0.0.1', user_agent: 'vitest-agent', revoked_at: null });
    expect(await db.sql`select 1 from admin_sessions where id = ${token}`).toHaveLength(0);
    const [user] = await db.sql`select last_login_at from admin_users where username = ${ADMIN_USER}`;
    expect(user!.last_login_at).not.toBeNull();
    const [audit] = await db.sql`select * from admin_audit where action = 'login.success' order by id desc limit 1`;
    expect(audit).toMatchObject({ actor: ADMIN_USER, target: `admin_user:${ADMIN_USER}`, ip: '127.0.0.1' });
  });

  it('answers a wrong password and an unknown user alike, and records each failure', async () => {
    const wrong = await login(ADMIN_USER, 'not the password at all');
    const unknown = await login('nobody', 'not the password at all');
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_credentials', message: 'Invalid username or password' });
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const failures = await db.sql`select username, ip from admin_login_failures order by id`;
    expect(failures.map((f) => f.username)).toEqual(expect.arrayContaining([ADMIN_USER, 'nobody']));
    expect(failures.every((f) => f.ip === '127.0.0.1')).toBe(true);
    const audit = await db.sql`select actor, target from admin_audit where action = 'login.failure'`;
    expect(audit).toEqual(expect.arrayContaining([{ actor: 'anonymous', target: 'admin_user:nobody' }]));
    // the tried password is stored nowhere
    const dump = await db.sql`select row_to_json(a)::text as j from admin_audit a union all select row_to_json(f)::text from admin_login_failures f`;
    for (const r of dump) expect(r.j).not.toContain('not the password');
  });

  it('spends one bcrypt compare on an unknown username, as on a known one', async () => {
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      expect((await login('no_such_admin', 'whatever password')).status).toBe(401);
      expect(compare).toHaveBeenCalledTimes(1);
      expect((await login(ADMIN_USER, 'whatever password')).status).toBe(401);
      expect(compare).toHaveBeenCalledTimes(2);
    } finally {
      compare.mockRestore();
    }
  });

  it('rate limits failures per username with 429, Retry-After and RateLimit-*, even for the right password', async () => {
    await createTestAdminUser(db.sql, 'limited', ADMIN_PASSWORD);
    for (let i = 0; i < 3; i++) expect((await login('limited', `wrong password ${i}`)).status).toBe(401);
    const blocked = await login('limited', ADMIN_PASSWORD);
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('rate_limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect([blocked.headers.get('ratelimit-limit'), blocked.headers.get('ratelimit-remaining'), blocked.headers.get('ratelimit-reset')]).toEqual([
      '3',
      '0',
      blocked.headers.get('retry-after'),
    ]);
    expect(blocked.headers.get('set-cookie')).toBeNull();
    // other usernames from the same address still get in
    expect((await login(ADMIN_USER, ADMIN_PASSWORD)).status).toBe(200);
  });

  it("a successful sign-in clears its username's failures", async () => {
    await createTestAdminUser(db.sql, 'forgetful', ADMIN_PASSWORD);
    for (let i = 0; i < 2; i++) expect((await login('forgetful', 'wrong password')).status).toBe(401);
    expect((await login('forgetful', ADMIN_PASSWORD)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await login('forgetful', 'wrong password')).status).toBe(401);
    expect((await login('forgetful', ADMIN_PASSWORD)).status).toBe(200);
  });

  it('rate limits failures per address across usernames', async () => {
    const other = await startAdminApp(db, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '100', ADMIN_LOGIN_MAX_FAILURES_PER_IP: '4' });
    try {
      for (let i = 0; i < 4; i++)
        expect((await call(other, 'POST', '/admin/api/login', {}, { username: `sprayed${i}`, password: 'guess guess guess' })).status).toBe(401);
      const blocked = await call(other, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: ADMIN_PASSWORD });
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await other.close();
    }
  });

  it.each([
    [{ username: ADMIN_USER }, 'password'],
    [{ password: 'x' }, 'username'],
    [{ username: '', password: 'x' }, 'username'],
    [{ username: ADMIN_USER, password: 42 }, 'password'],
  ])('400 with details for %j', async (body, field) => {
    const res = await call(app, 'POST', '/admin/api/login', {}, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('refuses a form post (login CSRF) and bad JSON', async () => {
    const form = await call(app, 'POST', '/admin/api/login', {}, `username=${ADMIN_USER}&password=x`, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    const bad = await call(app, 'POST', '/admin/api/login', {}, '{"username":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('validation_failed');
  });

  it('413 for a body over 64 KiB, 400 for an over-long password, before any bcrypt', async () => {
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const huge = await login(ADMIN_USER, 'x'.repeat(70_000));
      expect(huge.status).toBe(413);
      expect(huge.body.error).toBe('payload_too_large');
      const long = await login(ADMIN_USER, 'x'.repeat(1025));
      expect(long.status).toBe(400);
      expect(long.body.details[0].field).toBe('password');
      expect(compare).not.toHaveBeenCalled();
    } finally {
      compare.mockRestore();
    }
  });

  it('marks the cookie Secure in production', async () => {
    const prod = await startAdminApp(db, { NODE_ENV: 'production', KEY_LOOKUP_SECRET: 'a production key lookup secret of 40 chars' });
    try {
      const res = await call(prod, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: ADMIN_PASSWORD });
      expect(res.headers.get('set-cookie')).toMatch(/; Secure/);
    } finally {
      await prod.close();
    }
  });
});

// a limiter that checks, then runs bcrypt, then counts, let
// 60 parallel guesses all reach the password check
describe('sign-in limits under concurrency', () => {
  const burst = (target: AdminTestApp, bodies: Array<{ username: string; password: string }>) =>
    Promise.all(bodies.map((body) => call(target, 'POST', '/admin/api/login', {}, body)));

  it('60 concurrent wrong passwords for one user check at most 5; the right one in and after the burst gets 429', async () => {
    const limited = await startAdminApp(db, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '5', ADMIN_LOGIN_MAX_FAILURES_PER_IP: '1000' });
    await createTestAdminUser(db.sql, 'burst_user', ADMIN_PASSWORD);
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const bodies = Array.from({ length: 60 }, (_, i) => ({ username: 'burst_user', password: `wrong password ${i}` }));
      const replies = await burst(limited, [...bodies, { username: 'burst_user', password: ADMIN_PASSWORD }]);
      expect(compare.mock.calls.length).toBeLessThanOrEqual(5);
      expect(replies.filter((r) => r.status === 401).length).toBeLessThanOrEqual(5);
      expect(replies.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(56);
      expect(replies.at(-1)!.status).toBe(429); // the right password, last into the burst
      expect(replies.every((r) => r.status === 401 || r.status === 429)).toBe(true);
      const after = await call(limited, 'POST', '/admin/api/login', {}, { username: 'burst_user', password: ADMIN_PASSWORD });
      expect(after.status).toBe(429);
      expect([after.headers.get('ratelimit-limit'), after.headers.get('ratelimit-remaining')]).toEqual(['5', '0']);
      expect(Number(after.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(compare.mock.calls.length).toBeLessThanOrEqual(5);
    } finally {
      compare.mockRestore();
      await limited.close();
    }
  });

  it('60 concurrent sign-ins for different users from one address check at most 5; then the right password gets 429', async () => {
    const limited = await startAdminApp(db, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '100', ADMIN_LOGIN_MAX_FAILURES_PER_IP: '5' });
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const bodies = Array.from({ length: 60 }, (_, i) => ({ username: `spray${i}`, password: 'guess guess guess' }));
      const replies = await burst(limited, [...bodies, { username: ADMIN_USER, password: ADMIN_PASSWORD }]);
      expect(compare.mock.calls.length).toBeLessThanOrEqual(5);
      expect(replies.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(56);
      const after = await call(limited, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: ADMIN_PASSWORD });
      expect(after.status).toBe(429);
      expect(after.headers.get('ratelimit-limit')).toBe('5');
      expect(compare.mock.calls.length).toBeLessThanOrEqual(5);
    } finally {
      compare.mockRestore();
      await limited.close();
    }
  });

  it('without Redis, sign-in fails closed with 503 before any password check', async () => {
    const blind = await startAdminApp(db, { REDIS_URL: 'redis://127.0.0.1:1' });
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const res = await call(blind, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password: ADMIN_PASSWORD });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(compare).not.toHaveBeenCalled();
    } finally {
      compare.mockRestore();
      await blind.close();
    }
  });

  it('a successful sign-in gives its address token back; failures keep theirs', async () => {
    const limited = await startAdminApp(db, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '100', ADMIN_LOGIN_MAX_FAILURES_PER_IP: '3' });
    const attempt = (password: string) => call(limited, 'POST', '/admin/api/login', {}, { username: ADMIN_USER, password });
    try {
      for (let i = 0; i < 6; i++) expect((await attempt(ADMIN_PASSWORD)).status, `success ${i}`).toBe(200);
      expect((await attempt('wrong password one')).status).toBe(401);
      expect((await attempt('wrong password two')).status).toBe(401);
      expect((await attempt(ADMIN_PASSWORD)).status).toBe(200); // took the third token, gave it back
      expect((await attempt('wrong password three')).status).toBe(401);
      expect((await attempt(ADMIN_PASSWORD)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});

describe('POST /admin/api/logout', () => {
  it('revokes the session server-side, clears the cookie and records it', async () => {
    const cookie = await signIn(app);
    const res = await call(app, 'POST', '/admin/api/logout', { cookie }, {});
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toMatch(/^cl_admin_session=;.*Max-Age=0/);
    // replaying the old cookie does not work: the server forgot it, not just the browser
    expect((await call(app, 'GET', '/admin/api/session', { cookie })).status).toBe(401);
    const token = cookie.split('=')[1]!;
    const [session] = await db.sql`select revoked_at from admin_sessions where id = ${createHash('sha256').update(token).digest('hex')}`;
    expect(session!.revoked_at).not.toBeNull();
    const [audit] = await db.sql`select * from admin_audit where action = 'logout' order by id desc limit 1`;
    expect(audit).toMatchObject({ actor: ADMIN_USER });
  });

  it('400 for an admin key, which has no session', async () => {
    const { key } = await createAdminKey(db.sql);
    const res = await call(app, 'POST', '/admin/api/logout', { key }, {});
    expect(res.status).toBe(400);
  });
});

describe('logs', () => {
  it('never contain a password, a session token or a full key', async () => {
    const { key } = await createAdminKey(db.sql, 'logged');
    const cookie = await signIn(app);
    await call(app, 'GET', '/admin/api/clients', { key });
    await login(ADMIN_USER, 'a wrong password to log');
    await call(app, 'GET', '/admin/api/nothing-here', { cookie });
    const all = app.logs.join('');
    expect(all).toContain('admin sign-in failed');
    for (const secret of [key, ADMIN_PASSWORD, 'a wrong password to log', cookie.split('=')[1]!]) expect(all).not.toContain(secret);
  });
});

describe('configuration', () => {
  it('takes ADMIN_SESSION_TTL as a duration and refuses anything else', () => {
    expect(loadConfig(adminSchema, {}).ADMIN_SESSION_TTL).toBe('12h');
    expect(loadConfig(adminSchema, { ADMIN_SESSION_TTL: '30m' }).ADMIN_SESSION_TTL).toBe('30m');
    for (const bad of ['forever', '0h', '12', '99999999999d']) expect(() => loadConfig(adminSchema, { ADMIN_SESSION_TTL: bad }), bad).toThrow(ConfigError);
    expect(() => loadConfig(adminSchema, { ADMIN_LOGIN_MAX_FAILURES_PER_USER: '0' })).toThrow(/ADMIN_LOGIN_MAX_FAILURES_PER_USER/);
  });
});
