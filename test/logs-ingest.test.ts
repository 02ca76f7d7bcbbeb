import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let tenant: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_BODY_BYTES: '20000', MAX_DECOMPRESSED_BYTES: '60000', MAX_EVENTS_PER_REQUEST: '50', MAX_EVENT_BYTES: '8000' });
  tenant = await createTenant(db.sql, 'agent');
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const rowsOf = (clientId: string) => db.sql`select * from workflow_logs where client_id = ${clientId} order by executed_at, event_id`;

describe('POST /api/v1/logs happy path', () => {
  it("accepts one event with 202 and stores it under the key's client_id", async () => {
    const res = await postLogs(stack.baseUrl, tenant.key, event({ event_id: 'one-1', level: 'INFO', duration_ms: 12.5, metadata: { run: 7 }, region: 'eu' }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 1, ids: ['one-1'] });
    const row = await waitFor(async () => (await db.sql`select * from workflow_logs where event_id = 'one-1'`)[0], 10_000, 'row');
    expect(row.client_id).toBe(tenant.clientId);
    expect(row.level).toBe('info');
    expect(row.duration_ms).toBe(12.5);
    // unknown top-level fields are kept in metadata
    expect(row.metadata).toEqual({ run: 7, region: 'eu' });
    expect(row.received_at).toBeInstanceOf(Date);
  });

  it('is served at the path in any case, with a trailing slash or a query string too (as the router serves its routes); other methods are not ingest', async () => {
    for (const path of ['/api/v1/logs/', '/api/v1/logs?source=ci', '/api/v1/logs/?a=1', '/API/v1/Logs']) {
      const res = await fetch(`${stack.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': tenant.key },
        body: JSON.stringify(event()),
      });
      expect(res.status, path).toBe(202);
      expect(res.headers.get('x-request-id')).toMatch(/^req_/);
      expect(res.headers.get('ratelimit-remaining')).not.toBeNull();
    }
    // a PUT is not the ingest route: the router answers it, in the same error shape
    const put = await fetch(`${stack.baseUrl}/api/v1/logs`, { method: 'PUT', headers: { 'x-api-key': tenant.key } });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toContain('POST');
    expect(await put.json()).toMatchObject({ error: 'method_not_allowed', request_id: expect.stringMatching(/^req_/) });
  });

  it('accepts an array, {"logs": [...]}, NDJSON and gzip, and generates missing event ids', async () => {
    const t = await createTenant(db.sql, 'agent');
    const a = await postLogs(stack.baseUrl, t.key, [event({ message: 'a1' }), event({ message: 'a2' })]);
    const b = await postLogs(stack.baseUrl, t.key, { logs: [event({ message: 'b1' })] });
    const ndjson = `${JSON.stringify(event({ message: 'c1' }))}\n\n${JSON.stringify(event({ message: 'c2' }))}\n`;
    const c = await postLogs(stack.baseUrl, t.key, ndjson, { 'content-type': 'application/x-ndjson' });
    const d = await postLogs(stack.baseUrl, t.key, gzipSync(JSON.stringify([event({ message: 'd1' })])), { 'content-encoding': 'gzip' });
    for (const r of [a, b, c, d]) expect(r.status).toBe(202);
    expect(a.body.accepted).toBe(2);
    expect(c.body.accepted).toBe(2);
    for (const id of [...a.body.ids, ...b.body.ids, ...c.body.ids, ...d.body.ids]) expect(id).toMatch(/^evt_[0-9a-f]{32}$/);
    const rows = await waitFor(async () => {
      const r = await rowsOf(t.clientId);
      return r.length === 6 && r;
    });
    expect(rows.map((r) => r.message).sort()).toEqual(['a1', 'a2', 'b1', 'c1', 'c2', 'd1']);
  });

  it("never honours a client_id in the body: another tenant cannot write into the first one's rows", async () => {
    const victim = await createTenant(db.sql, 'agent', 'victim');
    const attacker = await createTenant(db.sql, 'agent', 'attacker');
    const at = new Date(Date.now() - 3_600_000).toISOString(); // within the client's retention
    expect((await postLogs(stack.baseUrl, victim.key, event({ event_id: 'shared-id', executed_at: at, message: 'original' }))).status).toBe(202);
    await waitFor(async () => (await rowsOf(victim.clientId)).length === 1);
    const res = await postLogs(stack.baseUrl, attacker.key, event({ event_id: 'shared-id', executed_at: at, message: 'forged', client_id: victim.clientId }));
    expect(res.status).toBe(202);
    await waitFor(async () => (await rowsOf(attacker.clientId)).length === 1);
    const victimRows = await rowsOf(victim.clientId);
    expect(victimRows).toHaveLength(1);
    expect(victimRows[0]!.message).toBe('original');
    const attackerRows = await rowsOf(attacker.clientId);
    expect(attackerRows[0]!.message).toBe('forged');
    expect(attackerRows[0]!.metadata).toEqual({});
  });

  it('stores a retried event once (same event_id and executed_at)', async () => {
    const t = await createTenant(db.sql, 'agent');
    const e = event({ event_id: 'retry-me', executed_at: new Date(Date.now() - 3_600_000).toISOString() });
    for (let i = 0; i < 3; i++) expect((await postLogs(stack.baseUrl, t.key, e)).status).toBe(202);
    expect((await postLogs(stack.baseUrl, t.key, [e, e])).status).toBe(202);
    await waitFor(() => stack.drained(), 10_000, 'queue to drain');
    expect(await rowsOf(t.clientId)).toHaveLength(1);
  });
});
