// Owner self-service on the ingest API: list, create, revoke, rotate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { api, heartbeat } from './support/keys.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let owner: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  owner = await createTenant(db.sql, 'owner');
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

describe('GET /api/v1/keys', () => {
  it("lists the tenant's keys with their columns and never a secret or hash", async () => {
    const res = await api(stack.baseUrl, 'GET', '/api/v1/keys', owner.key);
    expect(res.status).toBe(200);
    const [k] = res.body.data;
    expect(k).toMatchObject({ id: owner.record.id, prefix: owner.record.prefix, role: 'owner', client_id: owner.clientId, status: 'active' });
    expect(Object.keys(k)).toEqual(
      expect.arrayContaining(['name', 'created_at', 'last_used_at', 'last_used_ip', 'expires_at', 'replaced_by', 'request_count']),
    );
    expect(JSON.stringify(res.body)).not.toContain(owner.key);
    expect(JSON.stringify(res.body)).not.toMatch(/key_hash|\$2[aby]\$/);
  });
});

describe('POST /api/v1/keys', () => {
  it('creates a key for the tenant, shown once, that works at once', async () => {
    const res = await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'ci agent', role: 'agent', expires_in: '90d' });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.key).toMatch(/^clk_/);
    expect(res.body).toMatchObject({ name: 'ci agent', role: 'agent', client_id: owner.clientId, status: 'active' });
    expect(new Date(res.body.expires_at).getTime()).toBeGreaterThan(Date.now() + 89 * 86_400_000);
    expect((await heartbeat(stack.baseUrl, res.body.key)).body.clientId).toBe(owner.clientId);
    const list = await api(stack.baseUrl, 'GET', '/api/v1/keys', owner.key);
    expect(JSON.stringify(list.body)).not.toContain(res.body.key);
  });

  it('accepts an absolute expiry date', async () => {
    const res = await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'dated', expires_at: '2099-01-31' });
    expect(res.status).toBe(201);
    expect(res.body.expires_at).toBe('2099-01-31T00:00:00.000Z');
  });

  it.each([
    ['no name', {}],
    ['an admin role', { name: 'x', role: 'admin' }],
    ['a client_id (the tenant comes from the key)', { name: 'x', client_id: 'someone_else' }],
    ['a bad duration', { name: 'x', expires_in: 'soon' }],
    ['a past date', { name: 'x', expires_at: '2001-01-01' }],
    ['both expiries', { name: 'x', expires_in: '1d', expires_at: '2099-01-01' }],
  ])('400 validation_failed for %s', async (_label, body) => {
    const res = await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
  });

  it('400 for a body that is not JSON, 415 for a form body', async () => {
    expect((await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, '{"name":')).status).toBe(400);
    expect((await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, 'name=x', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
  });
});

describe('DELETE /api/v1/keys/:id', () => {
  it("revokes one of the tenant's keys at once, by id or prefix", async () => {
    const created = (await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'to revoke' })).body;
    expect((await heartbeat(stack.baseUrl, created.key)).status).toBe(200);
    const res = await api(stack.baseUrl, 'DELETE', `/api/v1/keys/${created.prefix}`, owner.key);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('revoked');
    // the announcement reaches this process's cache over Redis pub/sub
    const deadline = Date.now() + 2_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) status = (await heartbeat(stack.baseUrl, created.key)).status;
    expect((await heartbeat(stack.baseUrl, created.key)).body.error).toBe('api_key_revoked');
  });
});

describe('POST /api/v1/keys/:id/rotate', () => {
  it('issues a replacement that works at once; the old key keeps working for the grace period', async () => {
    const created = (await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'rolling', role: 'agent' })).body;
    const res = await api(stack.baseUrl, 'POST', `/api/v1/keys/${created.id}/rotate`, owner.key, { grace: '1h' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'rolling', role: 'agent', rotated_from: created.id, status: 'active' });
    expect(res.body.previous).toMatchObject({ id: created.id, replaced_by: res.body.id, status: 'active' });
    const graceEnds = new Date(res.body.previous.expires_at).getTime();
    expect(Math.abs(graceEnds - (Date.now() + 3_600_000))).toBeLessThan(60_000);
    expect((await heartbeat(stack.baseUrl, res.body.key)).status).toBe(200);
    expect((await heartbeat(stack.baseUrl, created.key)).status).toBe(200);
  });

  it('defaults the grace period to 24 h; 409 when rotated twice; 400 for a bad grace', async () => {
    const created = (await api(stack.baseUrl, 'POST', '/api/v1/keys', owner.key, { name: 'default grace' })).body;
    expect((await api(stack.baseUrl, 'POST', `/api/v1/keys/${created.id}/rotate`, owner.key, { grace: 'later' })).status).toBe(400);
    const res = await api(stack.baseUrl, 'POST', `/api/v1/keys/${created.id}/rotate`, owner.key);
    expect(res.status).toBe(201);
    expect(Math.abs(new Date(res.body.previous.expires_at).getTime() - (Date.now() + 86_400_000))).toBeLessThan(60_000);
    const again = await api(stack.baseUrl, 'POST', `/api/v1/keys/${created.id}/rotate`, owner.key);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('conflict');
  });
});
