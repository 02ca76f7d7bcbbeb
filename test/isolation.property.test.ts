import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRow } from '@central-logger/db';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';
import { getJson, logRow, qs, seedLogs } from './support/reads.js';

// Random tenants, events and filters against the real API: a tenant sees
// exactly its own matching rows, all of them, across pages; crafted
// parameters (client_id, other tenants' ids and cursors) never widen that.
let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { CURSOR_SECRET: 'property-test-cursor-secret-32-chars+' }, { worker: false });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const HOUR = 3_600_000;
const base = Date.now() - 48 * HOUR;
const WORDS = ['alpha', 'Beta', 'gamma', 'delta_x', '50%', 'Ünïcode'];

interface Ev {
  offsetMin: number;
  status: string;
  environment: string;
  workflow: string | null;
  level: 'info' | 'error' | null;
  message: string | null;
  region: string | null;
}

const evArb: fc.Arbitrary<Ev> = fc.record({
  // a few minutes only: shared executed_at values exercise the event_id tie-break
  offsetMin: fc.integer({ min: 0, max: 40 * 60 }).map((m) => m - (m % 7)),
  status: fc.constantFrom('SUCCESS', 'FAILURE'),
  environment: fc.constantFrom('prod', 'dev'),
  workflow: fc.constantFrom('wf1', 'wf2', null),
  level: fc.constantFrom('info' as const, 'error' as const, null),
  message: fc.option(
    fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 3 }).map((w) => w.join(' ')),
    { nil: null },
  ),
  region: fc.constantFrom('eu', 'us', null),
});

interface Filter {
  status?: string;
  environment?: string;
  workflow?: string;
  level?: string;
  q?: string;
  region?: string;
  fromH?: number;
  toH?: number;
}

const filterArb: fc.Arbitrary<Filter> = fc
  .record(
    {
      status: fc.constantFrom('SUCCESS', 'FAILURE'),
      environment: fc.constantFrom('prod', 'dev'),
      workflow: fc.constantFrom('wf1', 'wf2'),
      level: fc.constantFrom('info', 'error'),
      q: fc.constantFrom('alpha', 'BETA', 'ta_', '%', 'ünï', 'zzz'),
      region: fc.constantFrom('eu', 'us'),
      fromH: fc.integer({ min: 0, max: 40 }),
      toH: fc.integer({ min: 1, max: 41 }),
    },
    { requiredKeys: [] },
  )
  .filter((f) => f.fromH === undefined || f.toH === undefined || f.fromH < f.toH);

function matches(r: LogRow, f: Filter): boolean {
  const t = Date.parse(r.executed_at);
  return (
    (f.status === undefined || r.status === f.status) &&
    (f.environment === undefined || r.environment === f.environment) &&
    (f.workflow === undefined || r.workflow === f.workflow) &&
    (f.level === undefined || r.level === f.level) &&
    (f.q === undefined || (r.message ?? '').toLowerCase().includes(f.q.toLowerCase())) &&
    (f.region === undefined || r.metadata.region === f.region) &&
    (f.fromH === undefined || t >= base + f.fromH * HOUR) &&
    (f.toH === undefined || t < base + f.toH * HOUR)
  );
}

function params(f: Filter): Record<string, string | undefined> {
  return {
    status: f.status,
    environment: f.environment,
    workflow: f.workflow,
    level: f.level,
    q: f.q,
    'metadata.region': f.region,
    from: f.fromH === undefined ? undefined : new Date(base + f.fromH * HOUR).toISOString(),
    to: f.toH === undefined ? undefined : new Date(base + f.toH * HOUR).toISOString(),
  };
}

const newestFirst = (a: LogRow, b: LogRow) => Date.parse(b.executed_at) - Date.parse(a.executed_at) || (a.event_id < b.event_id ? 1 : -1);

async function readAll(key: string, p: Record<string, string | undefined>, limit: number): Promise<{ ids: string[]; clients: Set<string>; cursors: string[] }> {
  const ids: string[] = [];
  const clients = new Set<string>();
  const cursors: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const res = await getJson(stack.baseUrl, `/api/v1/logs${qs({ ...p, limit, cursor })}`, key);
    expect(res.status).toBe(200);
    for (const r of res.body.data) {
      ids.push(r.event_id);
      clients.add(r.client_id);
    }
    cursor = res.body.next_cursor ?? undefined;
    if (!cursor) break;
    cursors.push(cursor);
  }
  return { ids, clients, cursors };
}

describe('tenant isolation, property-based', () => {
  it('a tenant sees exactly its own matching rows, all of them, across pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(evArb, { maxLength: 18 }), { minLength: 2, maxLength: 3 }),
        filterArb,
        fc.integer({ min: 1, max: 6 }),
        async (perTenant, filter, limit) => {
          const tenants: Tenant[] = [];
          const rows: LogRow[][] = [];
          for (const evs of perTenant) {
            const t = await createTenant(db.sql, 'reader', 'prop');
            tenants.push(t);
            // event ids collide across tenants on purpose (e0, e1, …)
            rows.push(
              await seedLogs(
                db.sql,
                evs.map((e, i) =>
                  logRow(t.clientId, {
                    event_id: `e${i}`,
                    executed_at: new Date(base + e.offsetMin * 60_000).toISOString(),
                    status: e.status,
                    environment: e.environment,
                    workflow: e.workflow,
                    level: e.level,
                    message: e.message,
                    metadata: e.region ? { region: e.region } : {},
                  }),
                ),
              ),
            );
          }
          const [me, them] = [tenants[0]!, tenants[1]!];
          const expected = rows[0]!
            .filter((r) => matches(r, filter))
            .sort(newestFirst)
            .map((r) => r.event_id);
          const mine = await readAll(me.key, params(filter), limit);
          expect(mine.ids).toEqual(expected);
          expect([...mine.clients].every((c) => c === me.clientId)).toBe(true);

          // crafted: a client_id parameter is refused, never honoured
          const crafted = await getJson(stack.baseUrl, `/api/v1/logs${qs({ ...params(filter), client_id: them.clientId })}`, me.key);
          expect(crafted.status).toBe(400);

          // crafted: the other tenant's cursors are refused
          const theirs = await readAll(them.key, params(filter), limit);
          for (const c of theirs.cursors.slice(0, 2)) {
            const res = await getJson(stack.baseUrl, `/api/v1/logs${qs({ ...params(filter), limit, cursor: c })}`, me.key);
            expect(res.status).toBe(400);
          }

          // crafted: the other tenant's ids answer only my row of that id, or 404
          for (const r of rows[1]!.slice(0, 3)) {
            const res = await getJson(stack.baseUrl, `/api/v1/logs/${r.event_id}`, me.key);
            const own = rows[0]!.filter((x) => x.event_id === r.event_id);
            if (own.length === 0) expect(res.status).toBe(404);
            else expect(res.body.client_id).toBe(me.clientId);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
