import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';
import { getJson, logRow, qs, seedLogs } from './support/reads.js';

let db: TestDatabase;
let stack: Stack;
let reader: Tenant;

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'test-cursor-secret-of-at-least-32-chars' });
  reader = await createTenant(db.sql, 'reader');
  await seedLogs(db.sql, [
    logRow(reader.clientId, {
      event_id: 'a1',
      executed_at: minutesAgo(50),
      status: 'SUCCESS',
      environment: 'prod',
      workflow: 'billing',
      run_id: 'r1',
      level: 'info',
      message: 'Invoice 42 paid',
      metadata: { region: 'eu', attempt: 2 },
    }),
    logRow(reader.clientId, {
      event_id: 'a2',
      executed_at: minutesAgo(40),
      status: 'FAILURE',
      environment: 'prod',
      workflow: 'billing',
      run_id: 'r1',
      level: 'error',
      message: 'Card declined for invoice 43',
      metadata: { region: 'us' },
    }),
    logRow(reader.clientId, {
      event_id: 'a3',
      executed_at: minutesAgo(30),
      status: 'SUCCESS',
      environment: 'staging',
      workflow: 'emails',
      run_id: 'r2',
      level: 'debug',
      message: '100% done_ok',
      metadata: { region: 'eu' },
    }),
    logRow(reader.clientId, {
      event_id: 'a4',
      executed_at: minutesAgo(20),
      status: 'SUCCESS',
      environment: 'prod',
      workflow: 'emails',
      run_id: 'r3',
      level: 'warn',
      message: 'slow smtp',
      metadata: {},
    }),
    logRow(reader.clientId, {
      event_id: 'a5',
      executed_at: minutesAgo(10),
      status: 'FAILURE',
      environment: 'prod',
      workflow: 'billing',
      run_id: 'r4',
      level: 'fatal',
      message: null,
      metadata: { region: 'eu' },
    }),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const ids = (body: { data: { event_id: string }[] }) => body.data.map((r) => r.event_id);
const logs = (params: Record<string, string | number | undefined>, key = reader.key) => getJson(stack.baseUrl, `/api/v1/logs${qs(params)}`, key);

describe('GET /api/v1/logs', () => {
  it("answers the tenant's logs newest first as {data, next_cursor}", async () => {
    const res = await logs({});
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(['a5', 'a4', 'a3', 'a2', 'a1']);
    expect(res.body.next_cursor).toBeNull();
    const a1 = res.body.data[4];
    expect(a1).toMatchObject({
      event_id: 'a1',
      client_id: reader.clientId,
      status: 'SUCCESS',
      environment: 'prod',
      workflow: 'billing',
      run_id: 'r1',
      level: 'info',
      message: 'Invoice 42 paid',
      metadata: { region: 'eu', attempt: 2 },
    });
    expect(a1.executed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  it.each([
    [{ status: 'FAILURE' }, ['a5', 'a2']],
    [{ environment: 'staging' }, ['a3']],
    [{ workflow: 'billing' }, ['a5', 'a2', 'a1']],
    [{ run_id: 'r1' }, ['a2', 'a1']],
    [{ level: 'ERROR' }, ['a2']],
    [{ q: 'INVOICE' }, ['a2', 'a1']],
    [{ q: '100%' }, ['a3']],
    [{ q: 'done_' }, ['a3']],
    [{ q: '%' }, ['a3']],
    [{ 'metadata.region': 'eu' }, ['a5', 'a3', 'a1']],
    [{ 'metadata.attempt': '2' }, ['a1']],
    [{ 'metadata.region': 'eu', status: 'SUCCESS' }, ['a3', 'a1']],
    [{ from: minutesAgo(35) }, ['a5', 'a4', 'a3']],
    [{ to: minutesAgo(35) }, ['a2', 'a1']],
    [{ from: minutesAgo(45), to: minutesAgo(15), status: 'SUCCESS' }, ['a4', 'a3']],
  ])('filters %j', async (params, expected) => {
    const res = await logs(params as Record<string, string>);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(expected);
  });

  it('pages with an opaque cursor without duplicates or gaps, also while newer rows arrive', async () => {
    const first = await logs({ limit: 2 });
    expect(ids(first.body)).toEqual(['a5', 'a4']);
    expect(typeof first.body.next_cursor).toBe('string');
    // a newer row inserted between pages does not shift the next page
    await seedLogs(db.sql, [logRow(reader.clientId, { event_id: 'a6', executed_at: minutesAgo(1) })]);
    const second = await logs({ limit: 2, cursor: first.body.next_cursor });
    expect(ids(second.body)).toEqual(['a3', 'a2']);
    const third = await logs({ limit: 2, cursor: second.body.next_cursor });
    expect(ids(third.body)).toEqual(['a1']);
    expect(third.body.next_cursor).toBeNull();
  });

  it('keeps rows with the same executed_at apart by event_id across pages', async () => {
    const t = await createTenant(db.sql, 'reader');
    const at = minutesAgo(5);
    await seedLogs(
      db.sql,
      ['x1', 'x2', 'x3', 'x4', 'x5'].map((event_id) => logRow(t.clientId, { event_id, executed_at: at })),
    );
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await logs({ limit: 2, cursor }, t.key);
      seen.push(...ids(res.body));
      cursor = res.body.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['x5', 'x4', 'x3', 'x2', 'x1']);
  });

  it('reads what was ingested through POST with an owner key', async () => {
    const owner = await createTenant(db.sql, 'owner');
    const posted = await postLogs(stack.baseUrl, owner.key, event({ event_id: 'via-post', message: 'round trip' }));
    expect(posted.status).toBe(202);
    const res = await waitFor(
      async () => {
        const r = await logs({ q: 'round trip' }, owner.key);
        return r.body.data?.length === 1 ? r : undefined;
      },
      10_000,
      'ingested row',
    );
    expect(res.body.data[0]).toMatchObject({ event_id: 'via-post', client_id: owner.clientId });
  });
});

describe('GET /api/v1/logs/:id', () => {
  it('answers one log of the tenant', async () => {
    const res = await getJson(stack.baseUrl, '/api/v1/logs/a2', reader.key);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ event_id: 'a2', message: 'Card declined for invoice 43' });
  });

  it('404 not_found for an unknown id', async () => {
    const res = await getJson(stack.baseUrl, '/api/v1/logs/nope', reader.key);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

describe('NDJSON export', () => {
  it('streams every matching row of a time range, one JSON object a line', async () => {
    const t = await createTenant(db.sql, 'reader');
    const rows = Array.from({ length: 1200 }, (_, i) =>
      logRow(t.clientId, { event_id: `e${String(i).padStart(4, '0')}`, executed_at: new Date(Date.now() - 3_600_000 + i * 1000).toISOString() }),
    );
    await seedLogs(db.sql, rows);
    const res = await getJson(stack.baseUrl, `/api/v1/logs${qs({ from: minutesAgo(61), to: new Date().toISOString() })}`, t.key, {
      accept: 'application/x-ndjson',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    // streamed as it is read, not buffered into one body of known length
    expect(res.headers.get('content-length')).toBeNull();
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const lines = (res.body as string)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1200);
    expect(lines[0].event_id).toBe('e1199');
    expect(lines.at(-1).event_id).toBe('e0000');
    expect(new Set(lines.map((l) => l.client_id))).toEqual(new Set([t.clientId]));
  });

  it('ends the cursor and its transaction when the client goes away mid-export', async () => {
    const t = await createTenant(db.sql, 'reader');
    const many = Array.from({ length: 30_000 }, (_, i) =>
      logRow(t.clientId, { event_id: `m${i}`, message: 'x'.repeat(200), executed_at: new Date(Date.now() - 3_600_000 + i * 100).toISOString() }),
    );
    for (let i = 0; i < many.length; i += 5_000) await seedLogs(db.sql, many.slice(i, i + 5_000));
    const abort = new AbortController();
    const res = await fetch(`${stack.baseUrl}/api/v1/logs`, { headers: { 'x-api-key': t.key, accept: 'application/x-ndjson' }, signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    const open = () => db.sql`select count(*)::int as n from pg_stat_activity where application_name = 'ingest-api-read' and state <> 'idle'`;
    await waitFor(async () => (await open())[0]!.n === 0, 10_000, 'the export transaction to end');
  });

  it('filters the export like a page', async () => {
    const res = await getJson(stack.baseUrl, `/api/v1/logs${qs({ status: 'FAILURE' })}`, reader.key, { accept: 'application/x-ndjson' });
    expect(
      (res.body as string)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).event_id),
    ).toEqual(['a5', 'a2']);
  });
});
