import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';
import { getJson, logRow, seedLogs, type JsonResponse } from './support/reads.js';

let db: TestDatabase;
let stack: Stack;
let reader: Tenant;
let other: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars' }, { worker: false });
  reader = await createTenant(db.sql, 'reader');
  other = await createTenant(db.sql, 'reader');
  for (const t of [reader, other]) {
    await seedLogs(
      db.sql,
      Array.from({ length: 3 }, (_, i) => logRow(t.clientId, { executed_at: new Date(Date.now() - (i + 1) * 60_000).toISOString() })),
    );
  }
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

function expect400(res: JsonResponse, ...fields: string[]): void {
  expect(res.status).toBe(400);
  expect(res.body.error).toBe('validation_failed');
  expect(res.body.request_id).toMatch(/^req_/);
  for (const f of fields) {
    expect(res.body.message).toContain(f);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(f);
  }
}

const get = (path: string, key = reader.key, headers: Record<string, string> = {}) => getJson(stack.baseUrl, path, key, headers);

describe('GET /api/v1/logs bad input is 400 validation_failed naming the parameter', () => {
  it.each([
    ['/api/v1/logs?foo=1', 'foo'],
    ['/api/v1/logs?client_id=someone-else', 'client_id'],
    ['/api/v1/logs?from=yesterday', 'from'],
    ['/api/v1/logs?to=2026-13-45T00:00:00Z', 'to'],
    ['/api/v1/logs?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'from'],
    ['/api/v1/logs?limit=0', 'limit'],
    ['/api/v1/logs?limit=1001', 'limit'],
    ['/api/v1/logs?limit=abc', 'limit'],
    ['/api/v1/logs?limit=1.5', 'limit'],
    ['/api/v1/logs?level=loud', 'level'],
    ['/api/v1/logs?status=', 'status'],
    ['/api/v1/logs?status=a&status=b', 'status'],
    [`/api/v1/logs?q=${'x'.repeat(201)}`, 'q'],
    ['/api/v1/logs?metadata.a.b=1', 'metadata.a.b'],
    ['/api/v1/logs?metadata.=1', 'metadata.'],
    ['/api/v1/logs?cursor=garbage', 'cursor'],
    ['/api/v1/logs?cursor=', 'cursor'],
  ])('%s', async (path, field) => {
    expect400(await get(path), field);
  });

  it('lists every bad parameter at once', async () => {
    expect400(await get('/api/v1/logs?limit=0&from=x&bogus=1'), 'limit', 'from', 'bogus');
  });

  it('rejects a cursor that was modified', async () => {
    const page = await get('/api/v1/logs?limit=1');
    const cursor: string = page.body.next_cursor;
    const [payload, mac] = cursor.split('.');
    const forged = Buffer.from(JSON.stringify(['2099-01-01T00:00:00.000000Z', 'x'])).toString('base64url');
    for (const bad of [`${forged}.${mac}`, `${payload}.${mac!.slice(0, -2)}AA`, `${payload}`, `${cursor}.x`]) {
      expect400(await get(`/api/v1/logs?limit=1&cursor=${encodeURIComponent(bad)}`), 'cursor');
    }
  });

  it("rejects another tenant's cursor", async () => {
    const theirs = await get('/api/v1/logs?limit=1', other.key);
    expect(theirs.body.next_cursor).toBeTruthy();
    expect400(await get(`/api/v1/logs?limit=1&cursor=${encodeURIComponent(theirs.body.next_cursor)}`), 'cursor');
  });

  it('rejects a cursor signed with another secret (another deployment)', async () => {
    const elsewhere = await startStack(db, { CURSOR_SECRET: 'another-cursor-secret-of-32-chars-or-more' }, { worker: false });
    try {
      const page = await getJson(elsewhere.baseUrl, '/api/v1/logs?limit=1', reader.key);
      expect400(await get(`/api/v1/logs?limit=1&cursor=${encodeURIComponent(page.body.next_cursor)}`), 'cursor');
    } finally {
      await elsewhere.close();
    }
  });

  it('NDJSON export takes no limit or cursor, and checks parameters before streaming', async () => {
    const ndjson = { accept: 'application/x-ndjson' };
    expect400(await get('/api/v1/logs?limit=10', reader.key, ndjson), 'limit');
    expect400(await get('/api/v1/logs?from=nope', reader.key, ndjson), 'from');
  });
});

describe('GET /api/v1/logs/:id bad input', () => {
  it('rejects query parameters', async () => {
    expect400(await get('/api/v1/logs/abc?client_id=x'), 'client_id');
  });

  it('an over-long id is simply not found', async () => {
    const res = await get(`/api/v1/logs/${'x'.repeat(300)}`);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});
