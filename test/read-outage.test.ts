// Tenant reads while their database cannot be reached: 503 unavailable with
// Retry-After (retry later), never a 500, and ingest itself unaffected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { freePort } from './support/private-services.js';
import { createTenant, event, postLogs, startStack, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let reader: Tenant;
let agent: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  // the read pool points at a port nothing listens on: every connection is refused
  stack = await startStack(db, { READ_DATABASE_URL: `postgres://central_logger_reader@127.0.0.1:${await freePort()}/central_logger` });
  reader = await createTenant(db.sql, 'reader', 'read-outage');
  agent = await createTenant(db.sql, 'agent', 'read-outage-agent');
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

describe('the read database unreachable', () => {
  it.each(['/api/v1/logs', '/api/v1/stats?group_by=status', '/api/v1/logs/histogram'])('GET %s: 503 unavailable with Retry-After', async (path) => {
    const res = await fetch(`${stack.baseUrl}${path}`, { headers: { 'x-api-key': reader.key } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe(String(stack.ingestConfig.UNAVAILABLE_RETRY_AFTER_S));
    expect(await res.json()).toMatchObject({ error: 'unavailable', request_id: res.headers.get('x-request-id') });
  });

  it('ingest does not read there: events are still accepted', async () => {
    expect((await postLogs(stack.baseUrl, agent.key, event())).status).toBe(202);
  });
});
