// Tenant users sign in: tokens, auth/me, limits, deactivation.
import bcrypt from 'bcrypt';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '@central-logger/config';
import { setClientActiveEverywhere } from '@central-logger/keys';
import { createTenantUser, deactivateUserEverywhere, DEV_TENANT_TOKEN_SECRET, tenantTokenSecret, type UserRole } from '@central-logger/tenant-auth';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { ANNOUNCED_WITHIN_MS, createTestAdminUser, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant, event, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';

const PASSWORD = 'a long tenant passphrase';
let db: TestDatabase;
let stack: Stack;
let redis: Redis;
let tenant: Tenant;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  // a high per-address limit: the burst below is governed by the per-username one alone
  stack = await startStack(db, { TENANT_LOGIN_MAX_FAILURES_PER_IP: '1000' }, { worker: false });
  redis = new Redis(REDIS_URL);
  tenant = await createTenant(db.sql, 'owner', 'acme');
  await seedLogs(db.sql, [logRow(tenant.clientId, { message: 'from the tenant' })]);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

async function user(role: UserRole, clientId = tenant.clientId) {
  const username = `user${++n}_${role}`;
  const u = await createTenantUser(db.sql, { clientId, username, role, password: PASSWORD, bcryptCost: 4, createdBy: 'test' });
  return { ...u, username };
}
const login = (username: string, password: string) => api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username, password });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const call = (method: string, path: string, token: string, body?: unknown) => api(stack.baseUrl, method, path, undefined, body, bearer(token));
async function tokenOf(username: string): Promise<string> {
  const res = await login(username, PASSWORD);
  expect(res.status).toBe(200);
  return res.body.access_token as string;
}

describe('POST /api/v1/auth/login', () => {
  it('returns a 15-minute HS256 token naming the user, client and role', async () => {
    const u = await user('owner');
    const res = await login(u.username, PASSWORD);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 900,
      user: { id: u.id, username: u.username, role: 'owner', client_id: tenant.clientId },
    });
    const [header, payload] = (res.body.access_token as string)
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: u.id, cid: tenant.clientId, role: 'owner' });
    expect(payload.exp - payload.iat).toBe(900);
    expect(payload.jti).toMatch(/^tok_/);
    const [row] = await db.sql`select last_login_at from tenant_users where id = ${u.id}`;
    expect(row!.last_login_at).not.toBeNull();
    const [audit] = await db.sql`select * from admin_audit where action = 'tenant_login.success' and target = ${`tenant_user:${u.id}`}`;
    expect(audit).toMatchObject({ actor: `user:${u.username}`, ip: '127.0.0.1' });
  });

  it('answers a wrong password and an unknown user alike, after one bcrypt compare each', async () => {
    const u = await user('reader');
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const wrong = await login(u.username, 'not the password at all');
      expect(compare).toHaveBeenCalledTimes(1);
      const unknown = await login('nobody_at_all', 'not the password at all');
      expect(compare).toHaveBeenCalledTimes(2);
      for (const res of [wrong, unknown]) {
        expect(res.status).toBe(401);
        expect(res.body).toMatchObject({ error: 'invalid_credentials', message: 'Invalid username or password' });
        expect(res.body.access_token).toBeUndefined();
      }
    } finally {
      compare.mockRestore();
    }
    const audit = await db.sql`select details::text as d from admin_audit where action = 'tenant_login.failure'`;
    for (const a of audit) expect(a.d).not.toContain('not the password');
  });

  it('400 for a body that is not {username, password}', async () => {
    for (const body of [{}, { username: 'x' }, { username: 'x', password: 'y', role: 'owner' }, []]) {
      const res = await api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, body);
      expect(res.status).toBe(400);
    }
  });

  it('a parallel burst of 60 against one username checks at most 5 passwords; the rest get 429 with Retry-After and RateLimit-*', async () => {
    const u = await user('reader');
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const answers = await Promise.all(Array.from({ length: 60 }, () => login(u.username, 'a wrong guess here')));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 401)).toHaveLength(5);
      expect(statuses.filter((s) => s === 429)).toHaveLength(55);
      expect(compare).toHaveBeenCalledTimes(5);
      const limited = answers.find((a) => a.status === 429)!;
      expect(limited.body.error).toBe('rate_limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(limited.headers.get('ratelimit-limit')).toBe('5');
      expect(limited.headers.get('ratelimit-remaining')).toBe('0');
      // even the right password now waits
      expect((await login(u.username, PASSWORD)).status).toBe(429);
    } finally {
      compare.mockRestore();
    }
  });
});

describe('the per-address sign-in limit', () => {
  let small: Stack;
  beforeAll(async () => {
    small = await startStack(db, { TENANT_LOGIN_MAX_FAILURES_PER_IP: '10' }, { worker: false });
    // until its Redis connection is up, ingest answers 503 (fail fast), sign-in included
    await waitFor(async () => (await fetch(`${small.baseUrl}/ready`)).status === 200, 10_000, 'the second ingest-api to be ready');
  });
  afterAll(async () => small?.close());

  it('a parallel burst of 60 from one address, each a different username, checks at most 10 passwords', async () => {
    const compare = vi.spyOn(bcrypt, 'compare');
    try {
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          api(small.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username: `guess_${i}`, password: 'a wrong guess here' }),
        ),
      );
      expect(answers.filter((a) => a.status !== 401 && a.status !== 429).map((a) => [a.status, a.body])).toEqual([]);
      expect(answers.filter((a) => a.status === 401)).toHaveLength(10);
      expect(answers.filter((a) => a.status === 429)).toHaveLength(50);
      expect(compare).toHaveBeenCalledTimes(10);
      expect(answers.find((a) => a.status === 429)!.headers.get('ratelimit-limit')).toBe('10');
    } finally {
      compare.mockRestore();
    }
  });
});

describe('access tokens on tenant endpoints', () => {
  it('work as Bearer on /api/v1/logs (read and write) and /api/v1/keys, like an owner key', async () => {
    const token = await tokenOf((await user('owner')).username);
    const logs = await call('GET', '/api/v1/logs', token);
    expect(logs.status).toBe(200);
    expect(logs.body.data.map((r: { message: string }) => r.message)).toContain('from the tenant');
    expect((await call('GET', '/api/v1/logs/histogram', token)).status).toBe(200);
    expect((await call('POST', '/api/v1/logs', token, event())).status).toBe(202);
    const keys = await call('GET', '/api/v1/keys', token);
    expect(keys.status).toBe(200);
    const created = await call('POST', '/api/v1/keys', token, { name: 'made by a user', role: 'agent' });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^clk_/);
    const seedName = await call('POST', '/api/v1/auth/api-key', token, { name: 'first API name', role: 'reader' });
    expect(seedName.status).toBe(201);
    const [audit] = await db.sql`select actor from admin_audit where action = 'key.issue' and target = ${`key:${created.body.id}`}`;
    expect(audit!.actor).toMatch(/^user:user\d+_owner$/);
  });

  it("a reader's token reads but is refused key management (403)", async () => {
    const token = await tokenOf((await user('reader')).username);
    expect((await call('GET', '/api/v1/logs', token)).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/api/v1/keys'],
      ['POST', '/api/v1/keys'],
      ['POST', '/api/v1/auth/api-key'],
    ] as const) {
      const res = await call(method, path, token, method === 'POST' ? { name: 'nope' } : undefined);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
    }
    expect((await call('POST', '/api/v1/logs', token, event())).status).toBe(403);
  });

  it('a tampered, foreign-signed, expired or garbage token is 401', async () => {
    const u = await user('owner');
    const token = await tokenOf(u.username);
    const [h, p, s] = token.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), role: 'owner', cid: 'someone_else' })).toString(
      'base64url',
    );
    const sign = (claims: Record<string, unknown>, secret: string, exp: number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(u.id)
        .setJti('tok_x')
        .setIssuer('central-logger')
        .setAudience('central-logger:tenant')
        .setIssuedAt(exp - 900)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(secret));
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      `${h}.${forgedPayload}.${s}`,
      await sign({ cid: tenant.clientId, role: 'owner' }, 'another secret of at least thirty-two characters', now + 600),
      await sign({ cid: tenant.clientId, role: 'owner' }, DEV_TENANT_TOKEN_SECRET, now - 1),
      `${h}.${p}.${'A'.repeat(43)}`,
      `eyJ${'x'.repeat(5000)}.a.b`,
    ];
    for (const t of bad) {
      const res = await call('GET', '/api/v1/logs', t);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBeTruthy();
    }
    // the same claims signed with the right secret are fine: the refusals above are the signature's and the expiry's
    expect((await call('GET', '/api/v1/logs', await sign({ cid: tenant.clientId, role: 'owner' }, DEV_TENANT_TOKEN_SECRET, now + 600))).status).toBe(200);
  });
});

describe('GET /api/v1/auth/me', () => {
  it('says who calls by token', async () => {
    const u = await user('reader');
    const res = await call('GET', '/api/v1/auth/me', await tokenOf(u.username));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ via: 'token', client_id: tenant.clientId, role: 'reader', user: { id: u.id, username: u.username } });
    expect(Date.parse(res.body.token.expires_at) - Date.now()).toBeGreaterThan(800_000);
  });

  it('and by key (X-API-Key or Bearer)', async () => {
    for (const headers of [{ 'x-api-key': tenant.key }, bearer(tenant.key)]) {
      const res = await api(stack.baseUrl, 'GET', '/api/v1/auth/me', undefined, undefined, headers);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ via: 'api_key', client_id: tenant.clientId, role: 'owner', key: { id: tenant.record.id, prefix: tenant.record.prefix } });
    }
    expect((await api(stack.baseUrl, 'GET', '/api/v1/auth/me')).status).toBe(401);
  });
});

describe('deactivation', () => {
  it('deactivating a user ends its tokens within a second (announced on the key channel), and it cannot sign in', async () => {
    const u = await user('owner');
    const token = await tokenOf(u.username);
    expect((await call('GET', '/api/v1/logs', token)).status).toBe(200); // its state is now cached
    const { announced } = await deactivateUserEverywhere(db.sql, redis, u.id);
    expect(announced).toBe(true);
    const started = Date.now();
    const res = await waitFor(
      async () => {
        const r = await call('GET', '/api/v1/logs', token);
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the token to stop working',
    );
    expect(Date.now() - started).toBeLessThan(ANNOUNCED_WITHIN_MS);
    expect(res.body.message).toMatch(/deactivated/);
    expect((await login(u.username, PASSWORD)).status).toBe(401);
  });

  it("deactivating the user's client ends its tokens within a second", async () => {
    const other = await createTenant(db.sql, 'agent', 'leaving');
    const u = await user('reader', other.clientId);
    const token = await tokenOf(u.username);
    expect((await call('GET', '/api/v1/logs', token)).status).toBe(200);
    const { announced } = await setClientActiveEverywhere(db.sql, redis, other.clientId, false);
    expect(announced).toBe(true);
    const res = await waitFor(
      async () => {
        const r = await call('GET', '/api/v1/logs', token);
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the token to stop working',
    );
    expect(res.body.error).toBe('client_inactive');
    expect((await login(u.username, PASSWORD)).status).toBe(401);
  });
});

describe('the admin app', () => {
  let admin: AdminTestApp;
  beforeAll(async () => {
    admin = await startAdminApp(db);
    await createTestAdminUser(db.sql);
  });
  afterAll(async () => admin?.close());

  it('never accepts a tenant access token', async () => {
    const token = await tokenOf((await user('owner')).username);
    const res = await fetch(`${admin.baseUrl}/admin/api/clients`, { headers: bearer(token) });
    expect(res.status).toBe(401);
  });
});

describe('TENANT_TOKEN_SECRET', () => {
  it('is required in production, and not the development value', () => {
    expect(() => tenantTokenSecret({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => tenantTokenSecret({ NODE_ENV: 'production' })).toThrow(/TENANT_TOKEN_SECRET/);
    expect(() => tenantTokenSecret({ NODE_ENV: 'production', TENANT_TOKEN_SECRET: DEV_TENANT_TOKEN_SECRET })).toThrow(ConfigError);
    const warn = vi.fn();
    expect(tenantTokenSecret({ NODE_ENV: 'development' }, warn)).toBe(DEV_TENANT_TOKEN_SECRET);
    expect(warn).toHaveBeenCalledOnce();
  });
});
