// Tenant users managed by the provider: the admin API and `central-logger user …`.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ANNOUNCED_WITHIN_MS, call, createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { api } from './support/keys.js';
import { createTenant, startStack, testEnv, waitFor, type Stack, type Tenant } from './support/stack.js';

const PASSWORD = 'a long tenant passphrase';
let db: TestDatabase;
let admin: AdminTestApp;
let stack: Stack;
let adminKey: string;
let tenant: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = await startAdminApp(db);
  stack = await startStack(db, {}, { worker: false });
  adminKey = (await createAdminKey(db.sql)).key;
  tenant = await createTenant(db.sql, 'agent', 'acme');
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
  await db.sql.unsafe('drop trigger if exists refuse_audit on admin_audit');
});

const auditFails = () => db.sql.unsafe('create trigger refuse_audit before insert on admin_audit for each row execute function refuse_audit()');
const adminCall = (method: string, path: string, body?: unknown) => call(admin, method, `/admin/api${path}`, { key: adminKey }, body);
const signInToIngest = (username: string, password = PASSWORD) => api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username, password });

/** Runs the real CLI with `stdin` piped in. */
function cli(stdin: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('bin/central-logger', args, { env: { ...process.env, ...testEnv(db) }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}

describe('admin API: /admin/api/users', () => {
  it('creates a user (audited), lists it without any hash, and the user signs in to the ingest API', async () => {
    const res = await adminCall('POST', '/users', { client_id: tenant.clientId, username: 'api_owner', role: 'owner', password: PASSWORD });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username: 'api_owner', role: 'owner', client_id: tenant.clientId, is_active: true });
    expect(res.text).not.toMatch(/\$2[aby]\$|password/);
    const [audit] = await db.sql`select * from admin_audit where action = 'tenant_user.create' and target = ${`tenant_user:${res.body.id}`}`;
    expect(audit).toMatchObject({ ip: '127.0.0.1' });
    expect(audit!.actor).toMatch(/^clk_/);
    const list = await adminCall('GET', `/users?client_id=${tenant.clientId}`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((u: { username: string }) => u.username)).toContain('api_owner');
    expect(list.text).not.toMatch(/\$2[aby]\$|password_hash/);
    expect((await signInToIngest('api_owner')).status).toBe(200);
  });

  it('refuses a bad role, short password, bad name, unknown client (404) and a taken username in any case (409)', async () => {
    const base = { client_id: tenant.clientId, username: 'dupe_user', role: 'reader', password: PASSWORD };
    expect((await adminCall('POST', '/users', base)).status).toBe(201);
    expect((await adminCall('POST', '/users', { ...base, role: 'admin' })).status).toBe(400);
    expect((await adminCall('POST', '/users', { ...base, username: 'other', password: 'short' })).status).toBe(400);
    expect((await adminCall('POST', '/users', { ...base, username: 'bad name!' })).status).toBe(400);
    expect((await adminCall('POST', '/users', { ...base, username: 'other2', client_id: 'no_such_client' })).status).toBe(404);
    const dupe = await adminCall('POST', '/users', { ...base, username: 'DUPE_USER' });
    expect(dupe.status).toBe(409);
  });

  it('deactivating a user (audited) ends its tokens on the running ingest-api within a second', async () => {
    const created = await adminCall('POST', '/users', { client_id: tenant.clientId, username: 'leaving_user', role: 'reader', password: PASSWORD });
    const token = (await signInToIngest('leaving_user')).body.access_token as string;
    const read = () => api(stack.baseUrl, 'GET', '/api/v1/logs', undefined, undefined, { authorization: `Bearer ${token}` });
    expect((await read()).status).toBe(200);
    const res = await adminCall('POST', `/users/${created.body.id}/deactivate`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ is_active: false, announced: true });
    const started = Date.now();
    await waitFor(async () => (await read()).status === 401, ANNOUNCED_WITHIN_MS, 'the token to stop working');
    expect(Date.now() - started).toBeLessThan(ANNOUNCED_WITHIN_MS);
    expect(await db.sql`select 1 from admin_audit where action = 'tenant_user.deactivate' and target = ${`tenant_user:${created.body.id}`}`).toHaveLength(1);
    expect((await adminCall('POST', '/users/usr_nobody12345/deactivate')).status).toBe(404);
  });

  it("writes the audit row in the change's transaction: when it fails, no user is created or deactivated", async () => {
    const kept = await adminCall('POST', '/users', { client_id: tenant.clientId, username: 'kept_user', role: 'reader', password: PASSWORD });
    await auditFails();
    expect((await adminCall('POST', '/users', { client_id: tenant.clientId, username: 'never_user', role: 'reader', password: PASSWORD })).status).toBe(500);
    expect(await db.sql`select 1 from tenant_users where username = 'never_user'`).toHaveLength(0);
    expect((await adminCall('POST', `/users/${kept.body.id}/deactivate`)).status).toBe(500);
    expect((await db.sql`select is_active from tenant_users where id = ${kept.body.id}`)[0]!.is_active).toBe(true);
  });

  it('needs an admin', async () => {
    expect((await call(admin, 'GET', '/admin/api/users')).status).toBe(401);
    expect((await call(admin, 'GET', '/admin/api/users', { key: tenant.key })).status).toBe(403);
  });
});

describe('central-logger user', () => {
  it('create reads the password from stdin; the user signs in; list shows it; deactivate stops it', async () => {
    const res = await cli(`${PASSWORD}\n`, 'user', 'create', 'cli_reader', '--client', tenant.clientId, '--role', 'reader');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`✓ User created: cli_reader (reader of ${tenant.clientId}`);
    expect(res.stdout + res.stderr).not.toContain(PASSWORD);
    const [row] = await db.sql`select password_hash, created_by from tenant_users where username = 'cli_reader'`;
    expect(row!.password_hash).toMatch(/^\$2[aby]\$/);
    expect(row!.created_by).toMatch(/^cli:/);
    expect(await db.sql`select 1 from admin_audit where action = 'tenant_user.create' and actor like 'cli:%'`).not.toHaveLength(0);
    const signedIn = await signInToIngest('cli_reader');
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user.role).toBe('reader');
    // only the first line counts
    expect((await signInToIngest('cli_reader', `${PASSWORD}\n`)).status).toBe(401);

    const list = await cli('', 'user', 'list', '--client', tenant.clientId);
    expect(list.stdout).toMatch(/cli_reader\s+\S+\s+reader\s+active/);
    const off = await cli('', 'user', 'deactivate', 'cli_reader');
    expect(off.code).toBe(0);
    expect(off.stdout).toContain('✓ User cli_reader deactivated');
    expect((await signInToIngest('cli_reader')).status).toBe(401);
  });

  it.each([
    ['short\n', ['--client', 'CLIENT', '--role', 'reader'], /at least 12 characters/],
    [`${PASSWORD}\n`, ['--client', 'CLIENT', '--role', 'admin'], /Invalid role "admin"/],
    [`${PASSWORD}\n`, ['--client', 'no_such_client', '--role', 'owner'], /No client "no_such_client"/],
  ])('refuses %j %j in one line', async (stdin, args, message) => {
    const res = await cli(stdin, 'user', 'create', `u${Math.random().toString(36).slice(2, 8)}`, ...args.map((a) => (a === 'CLIENT' ? tenant.clientId : a)));
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
  });
});
