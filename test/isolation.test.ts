import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, findLogs, loadTenantTokenSecret, readerUrl, READER_ROLE, signTenantsOn, tenantToken, withTenant, type Sql } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, type Tenant } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';

// Isolation enforced by Postgres itself, checked as the read role the API uses.
let db: TestDatabase;
let reader: Sql;
let a: Tenant;
let b: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  reader = createSql(readerUrl(db.url), { max: 1 });
  // as ingest-api does: each transaction's tenant is signed with the secret the reader cannot read
  signTenantsOn(reader, () => loadTenantTokenSecret(db.sql));
  a = await createTenant(db.sql, 'reader');
  b = await createTenant(db.sql, 'reader');
  await seedLogs(db.sql, [logRow(a.clientId), logRow(a.clientId), logRow(b.clientId)]);
});
afterAll(async () => {
  await reader?.end();
  await db?.drop();
});

describe('the read role', () => {
  it('is a LOGIN role that is no superuser, has no BYPASSRLS and does not own workflow_logs', async () => {
    const [role] = await db.sql`select rolcanlogin, rolsuper, rolbypassrls from pg_roles where rolname = ${READER_ROLE}`;
    expect(role).toEqual({ rolcanlogin: true, rolsuper: false, rolbypassrls: false });
    const [table] = await db.sql`select pg_get_userbyid(relowner) as owner, relrowsecurity, relforcerowsecurity from pg_class where relname = 'workflow_logs'`;
    expect(table!.owner).not.toBe(READER_ROLE);
    expect(table).toMatchObject({ relrowsecurity: true, relforcerowsecurity: true });
    const [me] = await reader`select current_user as u`;
    expect(me!.u).toBe(READER_ROLE);
  });

  it('sees no rows when no tenant is set, even with no WHERE clause', async () => {
    const [owner] = await db.sql`select count(*)::int as n from workflow_logs`;
    expect(owner!.n).toBe(3);
    const [r] = await reader`select count(*)::int as n from workflow_logs`;
    expect(r!.n).toBe(0);
    const [blank] = await reader.begin(async (tx) => {
      await tx`select set_config('app.client_id', '', true)`;
      return tx`select count(*)::int as n from workflow_logs`;
    });
    expect(blank!.n).toBe(0);
  });

  it("sees only the transaction's tenant, even when a query forgets the client_id condition", async () => {
    const rows = await withTenant(reader, a.clientId, (tx) => tx`select client_id from workflow_logs`);
    expect(rows.map((r) => r.client_id)).toEqual([a.clientId, a.clientId]);
  });

  it('the tenant setting does not outlive its transaction on a pooled connection', async () => {
    await withTenant(reader, a.clientId, (tx) => tx`select 1`);
    // the pool has one connection: the same session runs the next query
    const [r] = await reader`select count(*)::int as n, current_setting('app.client_id', true) as setting from workflow_logs`;
    expect(r).toEqual({ n: 0, setting: '' });
  });

  it('cannot write, read a partition directly, or switch row security off', async () => {
    const denied = async (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: '42501' });
    await denied(
      reader`insert into workflow_logs (client_id, event_id, received_at, executed_at, environment, status) values (${a.clientId}, 'x', now(), now(), 'e', 's')`,
    );
    await denied(reader`delete from workflow_logs`);
    await denied(reader`update workflow_logs set message = 'x'`);
    await denied(reader`select * from workflow_logs_default`);
    await denied(reader`select * from clients`);
    // with row_security off a query that policies would filter fails instead of bypassing
    await expect(
      reader.begin(async (tx) => {
        await tx`set local row_security = off`;
        return tx`select count(*) from workflow_logs`;
      }),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('findLogs through the read role answers only the asked tenant', async () => {
    const page = await findLogs(reader, b.clientId, {}, { limit: 10 });
    expect(page.data.map((r) => r.client_id)).toEqual([b.clientId]);
  });

  it('the query itself carries the client_id condition too (defence in depth)', async () => {
    // as the owner (RLS-exempt by its own policy), the tenant condition alone must hold
    const page = await findLogs(db.sql, a.clientId, {}, { limit: 10 });
    expect(page.data.map((r) => r.client_id)).toEqual([a.clientId, a.clientId]);
  });

  it('cannot choose its tenant: set_config of app.client_id without a valid token sees nothing', async () => {
    const secret = await loadTenantTokenSecret(db.sql);
    /** Rows the reader sees in a transaction that sets these two values itself. */
    const seen = async (clientId: string, token: string) => {
      const [r] = await reader.begin(async (tx) => {
        await tx`select set_config('app.client_id', ${clientId}, true), set_config('app.tenant_token', ${token}, true)`;
        return tx`select count(*)::int as n from workflow_logs`;
      });
      return r!.n as number;
    };
    expect(await seen(a.clientId, tenantToken(secret, a.clientId))).toBe(2); // what withTenant sends
    expect(await seen(b.clientId, '')).toBe(0); // the forged tenant of an injected set_config
    expect(await seen(b.clientId, tenantToken(secret, a.clientId))).toBe(0); // a's token with b's id
    expect(await seen(b.clientId, tenantToken(randomBytes(32), b.clientId))).toBe(0); // signed with a guessed secret
    expect(await seen(b.clientId, tenantToken(secret, b.clientId, Date.now() - 3_600_000))).toBe(0); // expired
    const [tampered] = tenantToken(secret, a.clientId).split('.');
    expect(await seen(a.clientId, `${Number(tampered) + 10_000}.${tenantToken(secret, a.clientId).split('.')[1]}`)).toBe(0); // expiry moved
  });

  it("cannot read the signing secret, nor change the policy's function", async () => {
    const denied = async (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: '42501' });
    await denied(reader`select secret from tenant_token_secret`);
    await denied(reader`select tenant_token_pad('\\x00'::bytea, 54)`);
    await denied(reader`create or replace function app_tenant() returns text language sql as $$ select 'x' $$`);
  });

  it('withTenant binds the tenant it is given, with no extra statement (the token rides in the pipelined set_config)', async () => {
    const rows = await withTenant(reader, b.clientId, (tx) => tx`select client_id from workflow_logs`);
    expect(rows.map((r) => r.client_id)).toEqual([b.clientId]);
  });
});
