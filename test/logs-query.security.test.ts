import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deactivateClient } from '@central-logger/db';
import { revokeKey } from '@central-logger/keys';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';
import { getJson, logRow, seedLogs } from './support/reads.js';

let db: TestDatabase;
let stack: Stack;
let mine: Tenant;
let theirs: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars', KEY_CACHE_TTL_MS: '1' }, { worker: false });
  mine = await createTenant(db.sql, 'reader');
  theirs = await createTenant(db.sql, 'owner');
  await seedLogs(db.sql, [
    logRow(mine.clientId, { event_id: 'shared-id', message: 'mine' }),
    logRow(theirs.clientId, { event_id: 'shared-id', message: 'theirs' }),
    logRow(theirs.clientId, { event_id: 'theirs-only', message: 'theirs' }),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const ROUTES = ['/api/v1/logs', '/api/v1/logs/shared-id', '/api/v1/stats'];

describe.each(ROUTES)('%s authentication', (route) => {
  it('401 api_key_required without a key', async () => {
    const res = await getJson(stack.baseUrl, route, undefined);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('api_key_required');
    expect(res.headers.get('www-authenticate')).toBeTruthy();
  });

  it('401 invalid_api_key with a wrong key', async () => {
    const res = await getJson(stack.baseUrl, route, `${mine.key.slice(0, -4)}AAAA`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_api_key');
  });

  it('403 insufficient_scope with an agent key', async () => {
    const agent = await createTenant(db.sql, 'agent');
    const res = await getJson(stack.baseUrl, route, agent.key);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
  });

  it('401 with a revoked key or an inactive client', async () => {
    const revoked = await createTenant(db.sql, 'reader');
    await revokeKey(db.sql, revoked.record.id);
    expect((await getJson(stack.baseUrl, route, revoked.key)).body.error).toBe('api_key_revoked');
    const inactive = await createTenant(db.sql, 'reader');
    await deactivateClient(db.sql, inactive.clientId);
    expect((await getJson(stack.baseUrl, route, inactive.key)).body.error).toBe('client_inactive');
  });
});

describe("another tenant's rows", () => {
  it('an event_id both tenants use answers each its own row', async () => {
    expect((await getJson(stack.baseUrl, '/api/v1/logs/shared-id', mine.key)).body.message).toBe('mine');
    expect((await getJson(stack.baseUrl, '/api/v1/logs/shared-id', theirs.key)).body.message).toBe('theirs');
  });

  it("another tenant's id is 404, as if it did not exist", async () => {
    const res = await getJson(stack.baseUrl, '/api/v1/logs/theirs-only', mine.key);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });

  it("lists, exports and stats never include another tenant's rows", async () => {
    const list = await getJson(stack.baseUrl, '/api/v1/logs', mine.key);
    expect(list.body.data.map((r: { message: string }) => r.message)).toEqual(['mine']);
    const ndjson = await getJson(stack.baseUrl, '/api/v1/logs', mine.key, { accept: 'application/x-ndjson' });
    expect(
      (ndjson.body as string)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).message),
    ).toEqual(['mine']);
    const stats = await getJson(stack.baseUrl, '/api/v1/stats', mine.key);
    expect(stats.body.total).toBe(1);
  });
});
