// An owner invites a person: a one-time token, valid 24 h, where the invited user sets a password.
import bcrypt from 'bcrypt';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTenantUser } from '@central-logger/tenant-auth';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';

const PASSWORD = 'a long tenant passphrase';
let db: TestDatabase;
let stack: Stack;
let owner: Tenant;
let reader: Tenant;
let ownerToken: string;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  owner = await createTenant(db.sql, 'owner', 'acme');
  reader = await createTenant(db.sql, 'reader', 'other');
  await createTenantUser(db.sql, { clientId: owner.clientId, username: 'acme_boss', role: 'owner', password: PASSWORD, bcryptCost: 4, createdBy: 'test' });
  ownerToken = (await api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username: 'acme_boss', password: PASSWORD })).body.access_token;
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const invite = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${ownerToken}` }) =>
  api(stack.baseUrl, 'POST', '/api/v1/auth/invites', undefined, body, headers);
const accept = (token: string, password = PASSWORD) => api(stack.baseUrl, 'POST', '/api/v1/auth/invites/accept', undefined, { token, password });
const login = (username: string, password = PASSWORD) => api(stack.baseUrl, 'POST', '/api/v1/auth/login', undefined, { username, password });

describe('invitations', () => {
  it("an owner's token invites; the invited person sets a password once and signs in to the owner's tenant", async () => {
    const res = await invite({ username: 'new_reader', role: 'reader' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username: 'new_reader', role: 'reader', client_id: owner.clientId, created_by: 'user:acme_boss', accepted_at: null });
    expect(Date.parse(res.body.expires_at) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    const token = res.body.token as string;
    // only its digest is stored
    const [row] = await db.sql`select token_digest from tenant_invites where id = ${res.body.id}`;
    expect(row!.token_digest).not.toContain(token);
    expect(await db.sql`select 1 from admin_audit where action = 'tenant_invite.create' and target = ${`tenant_invite:${res.body.id}`}`).toHaveLength(1);

    const accepted = await accept(token);
    expect(accepted.status).toBe(201);
    expect(accepted.body.user).toMatchObject({ username: 'new_reader', role: 'reader', client_id: owner.clientId });
    expect((await accept(token, 'another long passphrase')).status).toBe(404); // once
    const signedIn = await login('new_reader');
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.user).toMatchObject({ role: 'reader', client_id: owner.clientId });
    const list = await api(stack.baseUrl, 'GET', '/api/v1/auth/invites', undefined, undefined, { authorization: `Bearer ${ownerToken}` });
    expect(list.body.data[0]).toMatchObject({ id: res.body.id });
    expect(list.body.data[0].accepted_at).not.toBeNull();
    expect(JSON.stringify(list.body)).not.toContain(token);
  });

  it('an owner key invites too; a reader key cannot (403); no key is 401', async () => {
    expect((await invite({ username: 'by_key', role: 'owner' }, { 'x-api-key': owner.key })).status).toBe(201);
    expect((await invite({ username: 'by_reader', role: 'reader' }, { 'x-api-key': reader.key })).status).toBe(403);
    expect((await invite({ username: 'by_nobody', role: 'reader' }, {})).status).toBe(401);
  });

  it('an expired invite is refused, without bcrypt', async () => {
    const res = await invite({ username: 'too_late', role: 'reader' });
    await db.sql`update tenant_invites set expires_at = now() - interval '1 second' where id = ${res.body.id}`;
    const hash = vi.spyOn(bcrypt, 'hash');
    try {
      expect((await accept(res.body.token)).status).toBe(404);
      expect((await accept(`inv1_${'A'.repeat(43)}`)).status).toBe(404);
      expect((await accept('garbage')).status).toBe(404);
      expect(hash).not.toHaveBeenCalled();
    } finally {
      hash.mockRestore();
    }
    expect(await db.sql`select 1 from tenant_users where username = 'too_late'`).toHaveLength(0);
  });

  it('refuses a taken username (409), a bad role or name, and a short password', async () => {
    expect((await invite({ username: 'ACME_BOSS', role: 'reader' })).status).toBe(409);
    expect((await invite({ username: 'x', role: 'admin' })).status).toBe(400);
    expect((await invite({ username: 'bad name!', role: 'reader' })).status).toBe(400);
    const a = await invite({ username: 'race_name', role: 'reader' });
    const b = await invite({ username: 'race_name', role: 'owner' });
    expect((await accept(a.body.token, 'short')).status).toBe(400);
    expect((await accept(a.body.token)).status).toBe(201);
    // the second invite for the same name loses, and stays unused
    expect((await accept(b.body.token)).status).toBe(409);
    expect((await db.sql`select accepted_at from tenant_invites where id = ${b.body.id}`)[0]!.accepted_at).toBeNull();
  });
});
