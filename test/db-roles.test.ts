import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, roleUrl, ROLES, type AppRole, type Sql } from '@central-logger/db';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { createAdminKey, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

// Issue 13 item 5: each process connects as its own role (migration 090), none
// of which is a superuser, has BYPASSRLS or owns anything, each refused what
// its process does not do.

/** application_name → the role that pool must log in as. */
const EXPECTED: Record<string, string> = {
  'ingest-api': ROLES.ingest,
  'ingest-api-read': ROLES.reader,
  worker: ROLES.worker,
  admin: ROLES.admin,
};

let db: TestDatabase;
let stack: Stack;
let admin: AdminTestApp;
let tenant: Tenant;
const pools: Partial<Record<AppRole, Sql>> = {};
const as = (role: AppRole): Sql => (pools[role] ??= createSql(roleUrl(db.url, role), { max: 1 }));
const denied = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: '42501' });

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
  admin = await startAdminApp(db);
  tenant = await createTenant(db.sql, 'owner');
  // every pool connects: a key check and a write through ingest and the worker, a read, an admin query
  expect((await postLogs(stack.baseUrl, tenant.key, event({ event_id: 'roles-1' }))).status).toBe(202);
  await waitFor(async () => (await db.sql`select 1 from workflow_logs where event_id = 'roles-1'`).length > 0, 10_000, 'the stored event');
  expect((await api(stack.baseUrl, 'GET', '/api/v1/logs', tenant.key)).body.data).toHaveLength(1);
  expect((await fetch(`${admin.baseUrl}/ready`)).status).toBe(200);
});
afterAll(async () => {
  for (const sql of Object.values(pools)) await sql.end();
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

describe('database roles', () => {
  it('each app connects as its own role', async () => {
    const rows = await db.sql`
      select distinct application_name as app, usename as role from pg_stat_activity
      where datname = current_database() and application_name = any(${Object.keys(EXPECTED)})`;
    const seen = Object.fromEntries(Object.keys(EXPECTED).map((app) => [app, rows.filter((r) => r.app === app).map((r) => r.role)]));
    expect(seen).toEqual(Object.fromEntries(Object.entries(EXPECTED).map(([app, role]) => [app, [role]])));
  });

  it('no app role is a superuser, bypasses RLS, can create roles or databases, belongs to another role, or owns anything', async () => {
    for (const role of Object.values(ROLES)) {
      const [r] = await db.sql`select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin from pg_roles where rolname = ${role}`;
      expect({ role, ...r }).toEqual({ role, rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolcreatedb: false, rolcanlogin: true });
      const [member] = await db.sql`select count(*)::int as n from pg_auth_members m join pg_roles r on r.oid = m.member where r.rolname = ${role}`;
      expect({ role, memberOf: member!.n }).toEqual({ role, memberOf: 0 });
      const owned = await db.sql`
        with me as (select oid from pg_roles where rolname = ${role})
        select 'table ' || relname as what from pg_class, me where relowner = me.oid
        union all select 'function ' || proname from pg_proc, me where proowner = me.oid
        union all select 'schema ' || nspname from pg_namespace, me where nspowner = me.oid
        union all select 'type ' || typname from pg_type, me where typowner = me.oid
        union all select 'database ' || datname from pg_database, me where datdba = me.oid`;
      expect({ role, owns: owned.map((o) => o.what) }).toEqual({ role, owns: [] });
    }
    // and the tables' owner is none of them
    const [owner] = await db.sql`select pg_get_userbyid(relowner) as name from pg_class where relname = 'workflow_logs'`;
    expect(Object.values(ROLES)).not.toContain(owner!.name);
  });

  it('no app role can create objects in the schema or change a table', async () => {
    for (const role of Object.keys(ROLES) as AppRole[]) {
      await denied(as(role)`create table public.roles_probe (i int)`);
      await denied(as(role)`alter table workflow_logs disable row level security`);
      await denied(as(role)`drop table workflow_logs_default`);
      // ingest-api signs tenant reads with it (migration 091); no one else reads it
      if (role !== 'ingest') await denied(as(role)`select secret from tenant_token_secret`);
    }
  });

  it('ingest cannot read logs, delete keys, touch admin tables or run maintenance', async () => {
    const ingest = as('ingest');
    expect((await ingest`select prefix from api_keys where client_id = ${tenant.clientId}`).length).toBe(1);
    await denied(ingest`select count(*) from workflow_logs`);
    await denied(
      ingest`insert into workflow_logs (client_id, event_id, received_at, executed_at, environment, status) values ('x', 'x', now(), now(), 'e', 's')`,
    );
    await denied(ingest`delete from api_keys`);
    await denied(ingest`update clients set is_active = false`);
    await denied(ingest`select * from admin_users`);
    await denied(ingest`select * from admin_sessions`);
    await denied(ingest`select ensure_workflow_logs_partitions(current_date, current_date)`);
  });

  it('tenant users (migrations 110, 130): ingest reads them, stamps sign-ins and changes role and active state only; the worker and the reader never see them', async () => {
    await db.sql`insert into tenant_users (id, client_id, username, role, password_hash) values ('usr_rolestest1', ${tenant.clientId}, 'roles_user', 'owner', 'x')`;
    const ingest = as('ingest');
    expect((await ingest`select username from tenant_users where id = 'usr_rolestest1'`).length).toBe(1);
    expect((await ingest`update tenant_users set last_login_at = now() where id = 'usr_rolestest1'`).count).toBe(1);
    // owners manage their tenant's users from ingest-api (130): role and active state only, never the name, the tenant or the password
    expect((await ingest`update tenant_users set role = 'reader', is_active = true where id = 'usr_rolestest1'`).count).toBe(1);
    await denied(ingest`update tenant_users set username = 'renamed'`);
    await denied(ingest`update tenant_users set client_id = 'another'`);
    await denied(ingest`update tenant_users set password_hash = 'chosen'`);
    await denied(ingest`insert into tenant_users (id, client_id, username, role) values ('usr_forged123', ${tenant.clientId}, 'forged', 'owner')`);
    await denied(ingest`delete from tenant_users`);
    await denied(as('worker')`select * from tenant_users`);
    await denied(as('reader')`select * from tenant_users`);
    const adminSql = as('admin');
    expect((await adminSql`update tenant_users set is_active = false where id = 'usr_rolestest1'`).count).toBe(1);
    await denied(adminSql`delete from tenant_users`);
    // invites (111): ingest creates and reads them, and uses one only through accept_tenant_invite()
    await denied(ingest`update tenant_invites set accepted_at = null`);
    await denied(ingest`delete from tenant_invites`);
    await denied(as('worker')`select * from tenant_invites`);
    await denied(as('reader')`select * from tenant_invites`);
    await denied(as('worker')`select * from accept_tenant_invite('x', 'usr_x', 'x')`);
    await denied(
      adminSql`insert into tenant_invites (id, client_id, username, role, token_digest, created_by, expires_at) values ('inv_forged123', ${tenant.clientId}, 'x', 'owner', 'd', 'x', now())`,
    );
  });

  it('ingest can neither mint an admin key nor change one, nor turn a tenant key into one', async () => {
    const ingest = as('ingest');
    const { record: adminKey } = await createAdminKey(db.sql, 'roles-admin');
    await denied(ingest`
      insert into api_keys (id, prefix, key_hash, hash_version, role, client_id, name)
      values ('key_forged', 'clk_forged', 'x', 1, 'admin', null, 'forged')`);
    const hashOf = async (id: string) => (await db.sql`select key_hash from api_keys where id = ${id}`)[0]!.key_hash as string;
    const before = await hashOf(adminKey.id);
    expect((await ingest`update api_keys set key_hash = 'chosen', hash_version = 1 where id = ${adminKey.id}`).count).toBe(0);
    expect(await hashOf(adminKey.id)).toBe(before);
    await denied(ingest`update api_keys set role = 'admin', client_id = null where id = ${tenant.record.id}`);
  });

  it('the worker cannot read key hashes, log rows or admin users, and its maintenance functions remove only what expired', async () => {
    const worker = as('worker');
    expect((await worker`select prefix from api_keys where client_id = ${tenant.clientId}`).length).toBe(1);
    await denied(worker`select key_hash from api_keys`);
    await denied(worker`select * from api_keys`);
    await denied(worker`select count(*) from workflow_logs`);
    await denied(worker`delete from workflow_logs`);
    await denied(worker`update workflow_logs set message = 'x'`);
    await denied(worker`select * from admin_users`);
    await denied(worker`update api_keys set is_active = false`);
    const today = `workflow_logs_p${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    const [r] = await worker`select drop_expired_workflow_logs_partition(${today}) as dropped,
      drop_expired_workflow_logs_partition('clients') as other_table,
      delete_expired_workflow_logs(${tenant.clientId}, now() + interval '1 day', 1000) as deleted`;
    expect(r).toEqual({ dropped: false, other_table: false, deleted: 0 });
    expect((await db.sql`select count(*)::int as n from workflow_logs where client_id = ${tenant.clientId}`)[0]!.n).toBe(1);
  });

  it('admin cannot rewrite the audit log or read the tenant token secret', async () => {
    const adminSql = as('admin');
    await denied(adminSql`delete from admin_audit`);
    await denied(adminSql`update admin_audit set actor = 'someone else'`);
    await denied(adminSql`delete from api_keys`);
    await denied(adminSql`select ensure_workflow_logs_partitions(current_date, current_date)`);
  });

  it('the reader can only read logs', async () => {
    const reader = as('reader');
    await denied(
      reader`insert into workflow_logs (client_id, event_id, received_at, executed_at, environment, status) values ('x', 'x', now(), now(), 'e', 's')`,
    );
    await denied(reader`select * from api_keys`);
    await denied(reader`select * from clients`);
  });

  it("each role's default URL is the owner's with that user and without the owner's password", () => {
    expect(roleUrl('postgres://owner:s3cret@db.internal:5433/central_logger?sslmode=require', 'worker')).toBe(
      'postgres://central_logger_worker@db.internal:5433/central_logger?sslmode=require',
    );
  });

  it('the CLI connects as central_logger_admin and only migrate as the owner', async () => {
    const fresh = await createTestDatabase();
    try {
      const name = new URL(fresh.url).pathname.slice(1);
      const env = { DATABASE_URL: fresh.url, REDIS_URL };
      // no role but the owner (a superuser here) may connect: the CLI is refused, migrate is not
      await fresh.sql.unsafe(`revoke connect on database ${name} from public`);
      const refused = await centralLogger(['client', 'list'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/permission denied for database/);
      const passwords = { INGEST_DB_PASSWORD: 'ingest password 1', WORKER_DB_PASSWORD: 'worker password 1', ADMIN_DB_PASSWORD: 'admin password 1' };
      const migrated = await centralLogger(['migrate'], { ...env, ...passwords });
      expect(migrated.code).toBe(0);
      for (const role of [ROLES.ingest, ROLES.worker, ROLES.admin]) expect(migrated.stdout).toContain(`Password of ${role} set`);
      const set = await fresh.sql`select rolname from pg_authid where rolname = any(${[ROLES.ingest, ROLES.worker, ROLES.admin]}) and rolpassword is not null`;
      expect(set).toHaveLength(3);
      // roles are shared by the cluster's databases: leave them as the other tests expect (trusted, no password)
      for (const role of [ROLES.ingest, ROLES.worker, ROLES.admin]) await fresh.sql.unsafe(`alter role ${role} password null`);
      await fresh.sql.unsafe(`grant connect on database ${name} to ${ROLES.admin}`);
      const listed = await centralLogger(['client', 'list'], env);
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
    } finally {
      await fresh.drop();
    }
  });
});
