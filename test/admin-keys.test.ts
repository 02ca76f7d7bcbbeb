// The admin API's keys: issue (secret once), list, revoke, set expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';
import { ANNOUNCED_WITHIN_MS, call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp, type Reply } from './support/admin.js';

let db: TestDatabase;
let app: AdminTestApp;
let stack: Stack;
let cookie: string;
/** Every answer the admin app gave in this file, to search for secrets at the end. */
const replies: Reply[] = [];
const api = async (...args: Parameters<typeof call> extends [unknown, ...infer R] ? R : never) => {
  const r = await call(app, ...args);
  replies.push(r);
  return r;
};

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  stack = await startStack(db, {}, { worker: false });
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
  await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'acme', name: 'Acme' });
  await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'globex', name: 'Globex' });
});
afterAll(async () => {
  await app?.close();
  await stack?.close();
  await db?.drop();
});

const issued: string[] = [];
async function issue(body: Record<string, unknown>): Promise<Reply> {
  const res = await api('POST', '/admin/api/keys', { cookie }, body);
  if (res.body?.key) issued.push(res.body.key);
  return res;
}

describe('POST /admin/api/keys', () => {
  it('issues a key that works at once; the secret is in this answer only', async () => {
    const res = await issue({ name: 'Production agent', role: 'agent', client_id: 'acme', expires_in: '90d' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ name: 'Production agent', role: 'agent', client_id: 'acme', status: 'active', last_used_at: null });
    expect(res.body.key.startsWith(`${res.body.prefix}_`)).toBe(true);
    expect(res.body.warning).toMatch(/will not be shown again/);
    expect(Math.abs(new Date(res.body.expires_at).getTime() - (Date.now() + 90 * 86_400_000))).toBeLessThan(60_000);
    expect((await postLogs(stack.baseUrl, res.body.key, event())).status).toBe(202);

    const [audit] = await db.sql`select * from admin_audit where action = 'key.issue' and target = ${`key:${res.body.id}`}`;
    expect(audit).toMatchObject({ actor: 'ops', details: { prefix: res.body.prefix, role: 'agent', client_id: 'acme' } });
    const dump = await db.sql`select row_to_json(t)::text as j from (select * from api_keys) t union all select row_to_json(a)::text from admin_audit a`;
    const secret = res.body.key.slice(res.body.prefix.length + 1);
    for (const r of dump) expect(r.j).not.toContain(secret);
  });

  it('issues admin keys without a client; they open the admin API', async () => {
    const res = await issue({ name: 'automation', role: 'admin' });
    expect(res.status).toBe(201);
    expect(res.body.client_id).toBeNull();
    expect((await api('GET', '/admin/api/clients', { key: res.body.key })).status).toBe(200);
  });

  it.each([
    [{ role: 'agent', client_id: 'acme' }, 'name'],
    [{ name: '  ', role: 'agent', client_id: 'acme' }, 'name'],
    [{ name: 'x', role: 'superuser', client_id: 'acme' }, 'role'],
    [{ name: 'x', role: 'agent' }, 'client_id'],
    [{ name: 'x', role: 'admin', client_id: 'acme' }, 'client_id'],
    [{ name: 'x', role: 'agent', client_id: 'acme', expires_in: 'soon' }, 'expires_in'],
    [{ name: 'x', role: 'agent', client_id: 'nobody' }, 'client_id'],
  ])('400 with details for %j', async (body, field) => {
    const res = await issue(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
  });

  it('409 for an inactive client', async () => {
    await call(app, 'POST', '/admin/api/clients', { cookie }, { id: 'gone' });
    await call(app, 'POST', '/admin/api/clients/gone/deactivate', { cookie }, {});
    const res = await issue({ name: 'x', role: 'agent', client_id: 'gone' });
    expect(res.status).toBe(409);
  });
});

describe('GET /admin/api/keys', () => {
  it('lists prefix, name, role, client, status, dates and last use, filtered by client, never a secret', async () => {
    const a = await issue({ name: 'acme reader', role: 'reader', client_id: 'acme' });
    const g = await issue({ name: 'globex agent', role: 'agent', client_id: 'globex' });
    await db.sql`update api_keys set last_used_at = now(), last_used_ip = '203.0.113.9' where id = ${a.body.id}`;

    const all = await api('GET', '/admin/api/keys', { cookie });
    expect(all.status).toBe(200);
    const listed = all.body.data.find((k: { id: string }) => k.id === a.body.id);
    expect(Object.keys(listed).sort()).toEqual(
      [
        'client_id',
        'created_at',
        'expires_at',
        'id',
        'last_used_at',
        'last_used_ip',
        'name',
        'prefix',
        'replaced_by',
        'request_count',
        'revoked_at',
        'role',
        'rotated_from',
        'rotation_due',
        'status',
      ].sort(),
    );
    expect(listed).toMatchObject({
      prefix: a.body.prefix,
      name: 'acme reader',
      role: 'reader',
      client_id: 'acme',
      status: 'active',
      last_used_ip: '203.0.113.9',
      expires_at: null,
    });

    const acme = await api('GET', '/admin/api/keys?client=acme', { cookie });
    expect(acme.body.data.every((k: { client_id: string }) => k.client_id === 'acme')).toBe(true);
    expect(acme.body.data.map((k: { id: string }) => k.id)).toContain(a.body.id);
    expect(acme.body.data.map((k: { id: string }) => k.id)).not.toContain(g.body.id);
  });

  it('404 when filtering by a client that does not exist; 400 for a repeated filter', async () => {
    expect((await api('GET', '/admin/api/keys?client=nobody', { cookie })).status).toBe(404);
    const twice = await api('GET', '/admin/api/keys?client=a&client=b', { cookie });
    expect(twice.status).toBe(400);
    expect(twice.body.details[0].field).toBe('client');
  });
});

describe('DELETE /admin/api/keys/:id', () => {
  it('revokes by id: refused by ingest within a second, listed as revoked, audited', async () => {
    const k = await issue({ name: 'to revoke', role: 'agent', client_id: 'acme' });
    expect((await postLogs(stack.baseUrl, k.body.key, event())).status).toBe(202);
    const res = await api('DELETE', `/admin/api/keys/${k.body.id}`, { cookie }, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: k.body.id, status: 'revoked', announced: true });
    const refused = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, k.body.key, event());
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the revoked key to be refused',
    );
    expect(refused.body.error).toBe('api_key_revoked');
    const [audit] = await db.sql`select * from admin_audit where action = 'key.revoke' and target = ${`key:${k.body.id}`}`;
    expect(audit).toMatchObject({ actor: 'ops', details: { prefix: k.body.prefix } });
  });

  it('revokes by prefix too; 404 for an unknown id', async () => {
    const k = await issue({ name: 'by prefix', role: 'agent', client_id: 'globex' });
    expect((await api('DELETE', `/admin/api/keys/${k.body.prefix}`, { cookie }, {})).body.status).toBe('revoked');
    const missing = await api('DELETE', '/admin/api/keys/key_doesnotexist', { cookie }, {});
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });
});

describe('PATCH /admin/api/keys/:id', () => {
  it('a past expiry is refused by ingest within a second; clearing it lets the key work again', async () => {
    const k = await issue({ name: 'expiring', role: 'agent', client_id: 'acme' });
    expect((await postLogs(stack.baseUrl, k.body.key, event())).status).toBe(202);
    const past = new Date(Date.now() - 1_000).toISOString();
    const res = await api('PATCH', `/admin/api/keys/${k.body.id}`, { cookie }, { expires_at: past });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: k.body.id, prefix: k.body.prefix, expires_at: past, announced: true });
    const refused = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, k.body.key, event());
        return r.status === 401 && r;
      },
      ANNOUNCED_WITHIN_MS,
      'the expired key to be refused',
    );
    expect(refused.body.error).toBe('api_key_expired');

    expect((await api('PATCH', `/admin/api/keys/${k.body.prefix}`, { cookie }, { expires_at: null })).status).toBe(200);
    await waitFor(async () => (await postLogs(stack.baseUrl, k.body.key, event())).status === 202, 1_000, 'the key to work again');
    const audit = await db.sql`select details from admin_audit where action = 'key.expiry' and target = ${`key:${k.body.id}`} order by id`;
    expect(audit.map((a) => a.details.to)).toEqual([expect.stringMatching(/^\d{4}-/), null]);
  });

  it('409 for a revoked key, 404 for an unknown one', async () => {
    const k = await issue({ name: 'revoked first', role: 'agent', client_id: 'acme' });
    await api('DELETE', `/admin/api/keys/${k.body.id}`, { cookie }, {});
    expect((await api('PATCH', `/admin/api/keys/${k.body.id}`, { cookie }, { expires_at: null })).status).toBe(409);
    expect((await api('PATCH', '/admin/api/keys/key_nope', { cookie }, { expires_at: null })).status).toBe(404);
  });

  it.each([[{}], [{ expires_at: 'tomorrow' }], [{ expires_at: 5 }], [{ expires_at: null, role: 'admin' }], [{ expires_at: '0000-06-01T00:00:00Z' }]])(
    '400 with details for %j',
    async (body) => {
      const res = await api('PATCH', '/admin/api/keys/key_any', { cookie }, body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('validation_failed');
      expect(res.body.details.length).toBeGreaterThan(0);
    },
  );
});

describe('secrets', () => {
  it('no answer but the issuing one, and no log line, contains a full key', async () => {
    expect(issued.length).toBeGreaterThan(5);
    const logs = app.logs.join('');
    for (const key of issued) {
      const carrying = replies.filter((r) => r.text.includes(key));
      expect(carrying).toHaveLength(1);
      expect(carrying[0]!.status).toBe(201);
      expect(logs).not.toContain(key);
    }
  });
});

describe('POST /admin/api/keys/:id/rotate', () => {
  it('issues a replacement that works at once while the old key works until the grace ends; audited', async () => {
    const old = await issue({ name: 'to rotate', role: 'agent', client_id: 'acme' });
    const res = await api('POST', `/admin/api/keys/${old.body.id}/rotate`, { cookie }, { grace: '1h' });
    expect(res.status).toBe(201);
    if (res.body?.key) issued.push(res.body.key);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ name: 'to rotate', role: 'agent', client_id: 'acme', status: 'active', rotated_from: old.body.id });
    expect(res.body.previous).toMatchObject({ id: old.body.id, replaced_by: res.body.id, status: 'active' });
    expect(Math.abs(new Date(res.body.previous.expires_at).getTime() - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect(res.body.previous.key).toBeUndefined();
    expect((await postLogs(stack.baseUrl, res.body.key, event())).status).toBe(202);
    expect((await postLogs(stack.baseUrl, old.body.key, event())).status).toBe(202);
    const [audit] = await db.sql`select * from admin_audit where action = 'key.rotate' and target = ${`key:${old.body.id}`}`;
    expect(audit).toMatchObject({ actor: 'ops', details: { prefix: old.body.prefix, replaced_by: res.body.prefix } });
  });

  it('answers 409 for a key already rotated, 404 for an unknown one, 400 for a bad grace', async () => {
    const old = await issue({ name: 'twice', role: 'agent', client_id: 'acme' });
    expect((await api('POST', `/admin/api/keys/${old.body.id}/rotate`, { cookie }, {})).status).toBe(201);
    expect((await api('POST', `/admin/api/keys/${old.body.id}/rotate`, { cookie }, {})).body.error).toBe('conflict');
    expect((await api('POST', '/admin/api/keys/key_nope/rotate', { cookie }, {})).status).toBe(404);
    const bad = await api('POST', `/admin/api/keys/${old.body.id}/rotate`, { cookie }, { grace: 'soon' });
    expect([bad.status, bad.body.error]).toEqual([400, 'validation_failed']);
  });
});
