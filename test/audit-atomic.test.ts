// Issue 13 item 12: every path that revokes a key, rotates one (the old key's
// expiry) or deactivates a client writes its audit row in the same
// transaction: when the audit write fails, the change is undone. The failure
// is real: a trigger in the test database refuses inserts into admin_audit.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { centralLogger } from './support/child-processes.js';
import { api } from './support/keys.js';
import { createTenant, startStack, testEnv, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let admin: AdminTestApp;
let stack: Stack;
let adminKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = await startAdminApp(db);
  stack = await startStack(db, { AUTH_FAILURE_LIMIT: '1000' }, { worker: false });
  adminKey = (await createAdminKey(db.sql)).key;
  await db.sql.unsafe(`
    create function refuse_audit() returns trigger language plpgsql as $$
      begin raise exception 'the audit log refuses writes (test)'; end $$`);
});
afterAll(async () => {
  await stack?.close();
  await admin?.close();
  await db?.drop();
});
beforeEach(async () => {
  await auditWorks();
});

const auditFails = () => db.sql.unsafe('create trigger refuse_audit before insert on admin_audit for each row execute function refuse_audit()');
const auditWorks = () => db.sql.unsafe('drop trigger if exists refuse_audit on admin_audit');
const cli = (...args: string[]) => centralLogger(args, testEnv(db));

async function keyState(t: Tenant) {
  const [k] = await db.sql`select is_active, revoked_at, replaced_by, expires_at from api_keys where id = ${t.record.id}`;
  const successors = await db.sql`select id from api_keys where rotated_from = ${t.record.id}`;
  const [c] = await db.sql`select is_active from clients where id = ${t.clientId}`;
  return { ...k, successors: successors.length, client_active: c!.is_active as boolean };
}
const untouched = { is_active: true, revoked_at: null, replaced_by: null, expires_at: null, successors: 0, client_active: true };
const auditRows = async (action: string, target: string) => (await db.sql`select 1 from admin_audit where action = ${action} and target = ${target}`).length;

// each path: how to run it, whether that run failed, and what a success changes
type Path = [string, (t: Tenant) => Promise<boolean>, string, (t: Tenant) => string, Partial<typeof untouched> | ((s: any) => void)];
const adminApi = (method: string, path: (t: Tenant) => string, body?: unknown) => async (t: Tenant) =>
  (await call(admin, method, path(t), { key: adminKey }, body)).status < 300;
const tenantApi = (method: string, path: (t: Tenant) => string, body?: unknown) => async (t: Tenant) =>
  (await api(stack.baseUrl, method, path(t), t.key, body)).status < 300;
const viaCli =
  (...args: Array<string | ((t: Tenant) => string)>) =>
  async (t: Tenant) =>
    (await cli(...args.map((a) => (typeof a === 'string' ? a : a(t))))).code === 0;
const rotated = (s: any) => {
  expect(s.successors).toBe(1);
  expect(s.replaced_by).not.toBeNull();
  expect(s.expires_at).not.toBeNull();
};

const PATHS: Path[] = [
  ['admin API revoke', adminApi('DELETE', (t) => `/admin/api/keys/${t.record.id}`), 'key.revoke', (t) => `key:${t.record.id}`, { is_active: false }],
  [
    'admin API deactivate',
    adminApi('POST', (t) => `/admin/api/clients/${t.clientId}/deactivate`, {}),
    'client.deactivate',
    (t) => `client:${t.clientId}`,
    { client_active: false },
  ],
  ['admin API rotate', adminApi('POST', (t) => `/admin/api/keys/${t.record.id}/rotate`, {}), 'key.rotate', (t) => `key:${t.record.id}`, rotated],
  ['CLI api-key revoke', viaCli('api-key', 'revoke', (t) => t.record.prefix), 'key.revoke', (t) => `key:${t.record.id}`, { is_active: false }],
  ['CLI client deactivate', viaCli('client', 'deactivate', (t) => t.clientId), 'client.deactivate', (t) => `client:${t.clientId}`, { client_active: false }],
  ['CLI api-key rotate', viaCli('api-key', 'rotate', (t) => t.record.id, '--grace', '1h'), 'key.rotate', (t) => `key:${t.record.id}`, rotated],
  ['tenant self-service revoke', tenantApi('DELETE', (t) => `/api/v1/keys/${t.record.id}`), 'key.revoke', (t) => `key:${t.record.id}`, { is_active: false }],
  ['tenant self-service rotate', tenantApi('POST', (t) => `/api/v1/keys/${t.record.id}/rotate`, {}), 'key.rotate', (t) => `key:${t.record.id}`, rotated],
];

describe('a change and its audit row commit together', () => {
  it.each(PATHS)('%s: a failing audit write undoes it; a working one lands with it', async (_name, run, action, target, changed) => {
    const t = await createTenant(db.sql, 'owner');
    await auditFails();
    expect(await run(t), 'the request fails with the audit').toBe(false);
    expect(await keyState(t)).toEqual(untouched);
    // the key still works: nothing was announced as changed
    expect((await api(stack.baseUrl, 'POST', '/api/v1/heartbeat', t.key, { timestamp: new Date().toISOString() })).status).toBe(200);

    await auditWorks();
    expect(await run(t), 'the request succeeds once the audit can be written').toBe(true);
    const after = await keyState(t);
    if (typeof changed === 'function') changed(after);
    else expect(after).toMatchObject(changed);
    expect(await auditRows(action, target(t))).toBe(1);
  });

  it('tenant self-service names the acting key and its address, and marks the path', async () => {
    const t = await createTenant(db.sql, 'owner');
    const other = await createTenant(db.sql, 'owner');
    // a second key of the same tenant, revoked by the first
    const created = await api(stack.baseUrl, 'POST', '/api/v1/keys', t.key, { name: 'second', role: 'agent' });
    expect(created.status).toBe(201);
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${created.body.id}`, t.key)).status).toBe(200);
    const rows = await db.sql`select actor, action, ip, details from admin_audit where target = ${`key:${created.body.id}`} order by id`;
    expect(rows.map((r) => r.action)).toEqual(['key.issue', 'key.revoke']);
    for (const r of rows) expect(r).toMatchObject({ actor: t.record.prefix, ip: '127.0.0.1', details: { via: 'self-service', client_id: t.clientId } });
    expect(JSON.stringify(rows)).not.toContain(created.body.key);
    // another tenant's key is 404, and nothing is audited for it
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${other.record.id}`, t.key)).status).toBe(404);
    expect(await auditRows('key.revoke', `key:${other.record.id}`)).toBe(0);
  });

  it('tenant self-service key creation is undone by a failing audit write', async () => {
    const t = await createTenant(db.sql, 'owner');
    await auditFails();
    expect((await api(stack.baseUrl, 'POST', '/api/v1/keys', t.key, { name: 'never', role: 'agent' })).status).toBe(500);
    expect(await db.sql`select 1 from api_keys where client_id = ${t.clientId} and name = 'never'`).toHaveLength(0);
  });
});
