// POST /api/v1/heartbeat (the first API's contract) and the usage bookkeeping it
// shares with every authenticated request: last heartbeat, last_used_at,
// last IP and request counts, added up in memory and flushed together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getClient } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { heartbeat } from './support/keys.js';
import { createTenant, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let fast: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  // a flush interval longer than any test: nothing reaches Postgres until flushed
  stack = await startStack(db, { KEY_USAGE_FLUSH_MS: '60000' }, { worker: false });
  fast = await startStack(db, { KEY_USAGE_FLUSH_MS: '200' }, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await fast?.close();
  await db?.drop();
});

describe('POST /api/v1/heartbeat', () => {
  it("answers the first API's contract with the key's client", async () => {
    const t = await createTenant(db.sql, 'agent');
    const res = await heartbeat(stack.baseUrl, t.key);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ success: true, message: 'Heartbeat received', clientId: t.clientId });
  });

  it('works with no body and with Authorization: Bearer', async () => {
    const t = await createTenant(db.sql, 'owner');
    const res = await fetch(`${stack.baseUrl}/api/v1/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${t.key}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { clientId: string }).clientId).toBe(t.clientId);
  });

  it('401 api_key_required with WWW-Authenticate and "API key required", 401 invalid_api_key for a wrong key', async () => {
    const none = await heartbeat(stack.baseUrl);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ error: 'api_key_required', message: 'API key required' });
    expect(none.headers.get('www-authenticate')).toBeTruthy();
    const wrong = await heartbeat(stack.baseUrl, 'wrong_key_12345');
    expect(wrong.body).toMatchObject({ error: 'invalid_api_key', message: 'Invalid API key' });
  });

  it('403 insufficient_scope for a reader key', async () => {
    const t = await createTenant(db.sql, 'reader');
    const res = await heartbeat(stack.baseUrl, t.key);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(res.body.message).toContain('logs:write');
  });
});

describe('usage without a write per request', () => {
  it('records the heartbeat, request count, last use and IP only when the buffer is flushed', async () => {
    const t = await createTenant(db.sql, 'agent');
    for (let i = 0; i < 5; i++) expect((await heartbeat(stack.baseUrl, t.key)).status).toBe(200);
    const before = await db.sql`select request_count, last_used_at from api_keys where id = ${t.record.id}`;
    expect(before[0]).toMatchObject({ request_count: '0', last_used_at: null });
    expect((await getClient(db.sql, t.clientId))!.lastHeartbeatAt).toBeNull();

    await stack.ingest.verifier.usage.flush();
    const [after] = await db.sql`select request_count, last_used_at, last_used_ip from api_keys where id = ${t.record.id}`;
    expect(Number(after!.request_count)).toBe(5);
    expect(Date.now() - (after!.last_used_at as Date).getTime()).toBeLessThan(60_000);
    expect(after!.last_used_ip).toMatch(/127\.0\.0\.1/);
    expect((await getClient(db.sql, t.clientId))!.lastHeartbeatAt).not.toBeNull();
  });

  it('flushes on its own within the configured interval, adding to what is stored', async () => {
    const t = await createTenant(db.sql, 'agent');
    for (let i = 0; i < 3; i++) await heartbeat(fast.baseUrl, t.key);
    await waitFor(
      async () => {
        const [r] = await db.sql`select request_count from api_keys where id = ${t.record.id}`;
        return Number(r!.request_count) === 3;
      },
      5_000,
      'usage flush',
    );
    await heartbeat(fast.baseUrl, t.key);
    await waitFor(
      async () => Number((await db.sql`select request_count from api_keys where id = ${t.record.id}`)[0]!.request_count) === 4,
      5_000,
      'second flush',
    );
  });
});
