// Every self-service route: no key, wrong key, wrong role, admin key, and
// another tenant's key id (404, never 403, and nothing changes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, getKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api } from './support/keys.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let owner: Tenant;
let victim: Tenant;
let adminKey: string;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { AUTH_FAILURE_LIMIT: '1000' }, { worker: false });
  owner = await createTenant(db.sql, 'owner');
  victim = await createTenant(db.sql, 'owner', 'victim');
  adminKey = (await createKey(db.sql, { name: 'provider', role: 'admin', clientId: null, bcryptCost: 4 })).key;
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

// [method, path of a key id, body]; the id is filled in once the tenants exist
const ROUTES = [
  ['GET', () => '/api/v1/keys', undefined],
  ['POST', () => '/api/v1/keys', { name: 'x' }],
  ['DELETE', (id: string) => `/api/v1/keys/${id}`, undefined],
  ['POST', (id: string) => `/api/v1/keys/${id}/rotate`, {}],
] as const;

describe.each(ROUTES)('%s %s', (method, path, body) => {
  it('401 api_key_required without a key, 401 invalid_api_key with a wrong one', async () => {
    expect((await api(stack.baseUrl, method, path(owner.record.id), undefined, body)).body.error).toBe('api_key_required');
    expect((await api(stack.baseUrl, method, path(owner.record.id), 'clk_nope', body)).body.error).toBe('invalid_api_key');
  });

  it('403 insufficient_scope naming keys:manage for agent and reader keys, and for an admin key', async () => {
    for (const role of ['agent', 'reader'] as const) {
      const t = await createTenant(db.sql, role);
      const res = await api(stack.baseUrl, method, path(t.record.id), t.key, body);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.body.message).toContain('keys:manage');
    }
    expect((await api(stack.baseUrl, method, path(owner.record.id), adminKey, body)).status).toBe(403);
  });
});

describe("another tenant's key", () => {
  it('is 404 to revoke or rotate, by id or prefix, and stays untouched', async () => {
    for (const ref of [victim.record.id, victim.record.prefix]) {
      const del = await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${ref}`, owner.key);
      expect(del.status).toBe(404);
      expect(del.body.error).toBe('not_found');
      expect((await api(stack.baseUrl, 'POST', `/api/v1/keys/${ref}/rotate`, owner.key, {})).status).toBe(404);
    }
    const after = await getKey(db.sql, victim.clientId, victim.record.id);
    expect(after).toMatchObject({ status: 'active', replacedBy: null, expiresAt: null });
  });

  it('never appears in the list', async () => {
    const res = await api(stack.baseUrl, 'GET', '/api/v1/keys', owner.key);
    expect(res.body.data.every((k: any) => k.client_id === owner.clientId)).toBe(true);
    expect(JSON.stringify(res.body)).not.toContain(victim.record.id);
  });
});
