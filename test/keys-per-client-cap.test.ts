// MAX_KEYS_PER_CLIENT: a client holds at most that many usable keys, whoever
// issues them (tenant self-service, the admin app, the CLI), also under a burst
// of parallel creates; rotation still works at the cap, but cannot grow it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { createTenant, startStack, testEnv, type Stack, type Tenant } from './support/stack.js';

const CAP = 5;

let db: TestDatabase;
let stack: Stack;
let admin: AdminTestApp;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_KEYS_PER_CLIENT: String(CAP) }, { worker: false });
  admin = await startAdminApp(db, { MAX_KEYS_PER_CLIENT: String(CAP) });
  await createTestAdminUser(db.sql);
  cookie = await signIn(admin);
});
afterAll(async () => {
  await admin?.close();
  await stack?.close();
  await db?.drop();
});

/** The client's keys that neither are revoked nor expired, as the cap counts them. */
async function usableKeys(sql: Sql, clientId: string): Promise<number> {
  const [row] = await sql`
    select count(*)::int as n from api_keys
    where client_id = ${clientId} and is_active and revoked_at is null and (expires_at is null or expires_at > now())`;
  return row!.n as number;
}

/** A tenant with its owner key, verified once so that parallel requests are not held back by in-flight verification limits. */
async function ownerTenant(): Promise<Tenant> {
  const t = await createTenant(db.sql, 'owner', 'cap');
  expect((await api(stack.baseUrl, 'GET', '/api/v1/keys', t.key)).status).toBe(200);
  return t;
}

const create = (t: Tenant, name: string, path = '/api/v1/keys') => api(stack.baseUrl, 'POST', path, t.key, { name });

function expectCapRefusal(res: { status: number; body: any }, clientId: string): void {
  expect(res.status).toBe(409);
  expect(res.body).toMatchObject({ error: 'conflict' });
  expect(res.body.message).toContain(`Client "${clientId}" has ${CAP} usable API keys and may have at most ${CAP}`);
  expect(res.body.message).toMatch(/revoke keys it no longer uses/);
  expect(res.body.key).toBeUndefined();
}

describe('the tenant API at the cap', () => {
  it('refuses one key more with 409 conflict (both create routes); a revoked or an expired key makes room', async () => {
    const t = await ownerTenant();
    const made: Array<{ id: string; prefix: string }> = [];
    for (let i = 1; i < CAP; i++) {
      const res = await create(t, `agent ${i}`);
      expect(res.status).toBe(201);
      made.push(res.body);
    }
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);

    expectCapRefusal(await create(t, 'one too many'), t.clientId);
    expectCapRefusal(await create(t, 'one too many', '/api/v1/auth/api-key'), t.clientId);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);

    // revoking one makes room for exactly one
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${made[0]!.prefix}`, t.key)).status).toBe(200);
    expect((await create(t, 'after a revocation')).status).toBe(201);
    expectCapRefusal(await create(t, 'one too many'), t.clientId);

    // an expired key does not count
    await db.sql`update api_keys set expires_at = now() - interval '1 second' where id = ${made[1]!.id}`;
    expect((await create(t, 'after an expiry', '/api/v1/auth/api-key')).status).toBe(201);
    expectCapRefusal(await create(t, 'one too many'), t.clientId);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);
  });

  it(`20 parallel creates against a cap of ${CAP} end with exactly ${CAP} usable keys, the rest 409`, async () => {
    const t = await ownerTenant(); // holds 1 key: 4 more fit
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => create(t, `burst ${i}`)));
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(CAP - 1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(20 - (CAP - 1));
    for (const r of answers.filter((a) => a.status !== 201)) expectCapRefusal(r, t.clientId);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);
  });
});

describe('the admin app and the CLI obey the same cap', () => {
  it("refuses a client's key past the cap with 409; another client and admin keys are unaffected", async () => {
    const t = await ownerTenant();
    const other = await ownerTenant();
    const issue = (body: Record<string, unknown>) => call(admin, 'POST', '/admin/api/keys', { cookie }, body);
    for (let i = 1; i < CAP; i++) expect((await issue({ name: `ops ${i}`, role: 'agent', client_id: t.clientId })).status).toBe(201);

    const refused = await issue({ name: 'one too many', role: 'agent', client_id: t.clientId });
    expectCapRefusal(refused, t.clientId);
    // the tenant's own route counts the operator's keys too
    expectCapRefusal(await create(t, 'one too many'), t.clientId);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);

    expect((await issue({ name: 'other tenant', role: 'agent', client_id: other.clientId })).status).toBe(201);
    expect((await create(other, 'other tenant, self-service')).status).toBe(201);
    expect((await issue({ name: 'automation', role: 'admin' })).status).toBe(201);
  });

  it('central-logger api-key create refuses a key past the cap', async () => {
    const t = await createTenant(db.sql, 'owner', 'cli');
    const env = testEnv(db, { MAX_KEYS_PER_CLIENT: '2' });
    expect((await centralLogger(['api-key', 'create', 'second', '--client', t.clientId], env)).code).toBe(0);
    const refused = await centralLogger(['api-key', 'create', 'third', '--client', t.clientId], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Client "${t.clientId}" has 2 usable API keys and may have at most 2`);
    expect(await usableKeys(db.sql, t.clientId)).toBe(2);
  });
});

describe('rotation and the cap', () => {
  const rotate = (t: Tenant, idOrPrefix: string) => api(stack.baseUrl, 'POST', `/api/v1/keys/${idOrPrefix}/rotate`, t.key, {});

  it('is allowed at the cap (it replaces a key); rotating the new key again within the grace is 409 until the old one stops counting', async () => {
    const t = await ownerTenant(); // its owner key: 1
    const k = (await create(t, 'rotated twice')).body; // 2
    // under the cap, a key rotated again within its predecessor's grace works as before
    const k1 = await rotate(t, k.prefix);
    expect(k1.status).toBe(201);
    const k2 = await rotate(t, k1.body.prefix);
    expect(k2.status).toBe(201);
    expect(await usableKeys(db.sql, t.clientId)).toBe(4); // k and k1 count until their grace ends
    const a = (await create(t, 'agent a')).body;
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP);
    expect((await create(t, 'one too many')).status).toBe(409);

    // at the cap: a rotation still works; the old key counts until its grace ends
    const a1 = await rotate(t, a.prefix);
    expect(a1.status).toBe(201);
    expect(a1.body.previous).toMatchObject({ prefix: a.prefix, status: 'active', replaced_by: a1.body.id });
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP + 1);
    expect((await create(t, 'one too many')).status).toBe(409);

    // the new key cannot be rotated again while its predecessor still works
    const again = await rotate(t, a1.body.prefix);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');
    expect(again.body.message).toContain(`API key ${a1.body.prefix} replaced ${a.prefix}, which still works until`);
    expect(again.body.message).toContain(`revoke ${a.prefix}`);
    // nor a key of a chain rotated under the cap
    expect((await rotate(t, k2.body.prefix)).status).toBe(409);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP + 1);

    // revoking the predecessor, or its grace ending, makes the rotation possible
    expect((await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${a.prefix}`, t.key)).status).toBe(200);
    expect((await rotate(t, a1.body.prefix)).status).toBe(201);
    await db.sql`update api_keys set expires_at = now() - interval '1 second' where id = ${k1.body.id}`;
    expect((await rotate(t, k2.body.prefix)).status).toBe(201);
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP + 1);
  });

  it("the admin app's rotation follows the same rule", async () => {
    const t = await ownerTenant();
    for (let i = 1; i < CAP; i++) expect((await create(t, `agent ${i}`)).status).toBe(201);
    const rotateAsAdmin = (idOrPrefix: string) => call(admin, 'POST', `/admin/api/keys/${idOrPrefix}/rotate`, { cookie }, {});
    const first = await rotateAsAdmin(t.record.prefix);
    expect(first.status).toBe(201);
    const again = await rotateAsAdmin(first.body.prefix);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'conflict' });
    expect(again.body.message).toContain(`replaced ${t.record.prefix}`);
  });
});

describe('keys no one asks for are not capped', () => {
  it('createKey without maxKeysPerClient (fixtures, the demo tenant, imports) stores the key whatever the count', async () => {
    const t = await createTenant(db.sql, 'agent', 'uncapped');
    for (let i = 0; i < CAP; i++) await createKey(db.sql, { name: `fixture ${i}`, role: 'agent', clientId: t.clientId, bcryptCost: 4 });
    expect(await usableKeys(db.sql, t.clientId)).toBe(CAP + 1);
    await expect(createKey(db.sql, { name: 'capped', role: 'agent', clientId: t.clientId, bcryptCost: 4, maxKeysPerClient: CAP })).rejects.toMatchObject({
      code: 'conflict',
      status: 409,
    });
  });
});
