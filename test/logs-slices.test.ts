import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSql,
  findLogs,
  loadTenantTokenSecret,
  logsQuery,
  pageSlices,
  readerUrl,
  signTenantsOn,
  withTenant,
  type LogPosition,
  type Sql,
} from '@central-logger/db';
import type { LogFilter } from '@central-logger/events';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { logRow, seedLogs } from './support/reads.js';
import { createTenant, type Tenant } from './support/stack.js';

// GET /api/v1/logs reads a page in time slices, newest first (pageSlices):
// the page must be exactly what one query over the whole range returns, and
// a page found in the newest slice must not touch older day partitions.
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-06-15T12:00:00Z');

describe('pageSlices', () => {
  it('splits an open range into the last hour (open upwards), day, week, and the rest', () => {
    const slices = pageSlices({ status: 'FAILURE' }, undefined, NOW);
    expect(slices).toEqual([
      { status: 'FAILURE', from: new Date(NOW - HOUR) },
      { status: 'FAILURE', from: new Date(NOW - DAY), to: new Date(NOW - HOUR) },
      { status: 'FAILURE', from: new Date(NOW - 7 * DAY), to: new Date(NOW - DAY) },
      { status: 'FAILURE', to: new Date(NOW - 7 * DAY) },
    ]);
  });

  it('anchors at to or at the cursor when earlier than now, and stops at from', () => {
    const to = new Date(NOW - 10 * DAY);
    const from = new Date(NOW - 10 * DAY - 5 * HOUR);
    expect(pageSlices({ from, to }, undefined, NOW)).toEqual([
      { from: new Date(to.getTime() - HOUR), to },
      { from, to: new Date(to.getTime() - HOUR) },
    ]);
    const after: LogPosition = { executedAt: '2026-06-13T12:00:00.000000Z', eventId: 'e' };
    expect(pageSlices({}, after, NOW)[0]).toEqual({ from: new Date(Date.parse(after.executedAt) - HOUR) });
    // a range inside the newest hour is one slice: the filter itself
    expect(pageSlices({ from: new Date(NOW - 60_000) }, undefined, NOW)).toEqual([{ from: new Date(NOW - 60_000) }]);
  });
});

let db: TestDatabase;
let reader: Sql;
let busy: Tenant;
let sparse: Tenant;

beforeAll(async () => {
  db = await createTestDatabase();
  reader = createSql(readerUrl(db.url), { max: 1 });
  signTenantsOn(reader, () => loadTenantTokenSecret(db.sql));
  busy = await createTenant(db.sql, 'reader');
  sparse = await createTenant(db.sql, 'reader');
  const now = Date.now();
  const at = (ms: number) => new Date(now - ms).toISOString();
  const rows = [];
  // busy: 30 rows in the last hour, one an hour ahead (a fast clock), some each day back to 20 days
  for (let i = 0; i < 30; i++) rows.push(logRow(busy.clientId, { event_id: `b_new_${i}`, executed_at: at(i * 60_000), level: i % 3 === 0 ? 'error' : 'info' }));
  rows.push(logRow(busy.clientId, { event_id: 'b_ahead', executed_at: at(-HOUR) }));
  for (let d = 0; d < 20; d++)
    rows.push(logRow(busy.clientId, { event_id: `b_day_${d}`, executed_at: at(d * DAY + 2 * HOUR), level: d % 2 ? 'error' : 'info' }));
  // equal executed_at on both sides of slice boundaries: ties are broken by event_id
  for (const id of ['b_tie_a', 'b_tie_b', 'b_tie_c']) rows.push(logRow(busy.clientId, { event_id: id, executed_at: at(DAY) }));
  // sparse: nothing recent, rows 3 and 12 days back
  for (const d of [3, 12, 12]) rows.push(logRow(sparse.clientId, { event_id: `s_${d}_${rows.length}`, executed_at: at(d * DAY) }));
  await seedLogs(db.sql, rows);
});
afterAll(async () => {
  await reader?.end();
  await db?.drop();
});

/** Every matching row, newest first, by one query over the whole range: what a page must agree with. */
async function allAtOnce(clientId: string, filter: LogFilter): Promise<string[]> {
  const rows = await withTenant(reader, clientId, (tx) => logsQuery(tx, clientId, filter));
  return rows.map((r) => r.event_id as string);
}

/** Pages of `limit` through findLogs, following next cursors to the end. */
async function pageThrough(clientId: string, filter: LogFilter, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let after: LogPosition | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const page = await findLogs(reader, clientId, filter, { limit, after });
    ids.push(...page.data.map((r) => r.event_id));
    if (!page.next) return ids;
    after = page.next;
  }
  throw new Error('more than 100 pages');
}

describe('findLogs in slices', () => {
  it('pages through exactly the rows, in the order, of one query over the whole range', async () => {
    const now = Date.now();
    const filters: LogFilter[] = [
      {},
      { level: 'error' },
      { from: new Date(now - 3 * DAY) },
      { to: new Date(now - 30 * 60_000) },
      { from: new Date(now - 15 * DAY), to: new Date(now - DAY) },
      { to: new Date(now + 2 * HOUR) },
    ];
    for (const tenant of [busy, sparse]) {
      for (const filter of filters) {
        const expected = await allAtOnce(tenant.clientId, filter);
        for (const limit of [1, 7, 29, 100])
          expect(await pageThrough(tenant.clientId, filter, limit), `${JSON.stringify(filter)} limit ${limit}`).toEqual(expected);
      }
    }
    expect((await allAtOnce(busy.clientId, {}))[0]).toBe('b_ahead');
  });

  it('answers a page the newest hour fills without opening older day partitions', async () => {
    // another session holds a lock on a partition from a week ago: a query that plans or scans it waits
    const day = new Date(Date.now() - 8 * DAY).toISOString().slice(0, 10).replaceAll('-', '');
    const locker = postgres(db.url, { max: 1, onnotice: () => {} });
    const waiting = postgres(readerUrl(db.url), { max: 1, onnotice: () => {}, connection: { lock_timeout: 2000 } });
    signTenantsOn(waiting as unknown as Sql, () => loadTenantTokenSecret(db.sql));
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => (locked = r));
      const holder = locker.begin(async (tx) => {
        await tx.unsafe(`lock table workflow_logs_p${day} in access exclusive mode`);
        locked();
        await held;
      });
      await isLocked;
      try {
        const page = await findLogs(waiting as unknown as Sql, busy.clientId, {}, { limit: 20 });
        expect(page.data.map((r) => r.event_id)).toEqual(['b_ahead', ...Array.from({ length: 19 }, (_, i) => `b_new_${i}`)]);
        // the same page as one query over every partition waits for the lock, and gives up
        await expect(withTenant(waiting as unknown as Sql, busy.clientId, (tx) => logsQuery(tx, busy.clientId, {}, { limit: 21 }))).rejects.toMatchObject({
          code: '55P03',
        });
      } finally {
        release();
        await holder;
      }
    } finally {
      await waiting.end();
      await locker.end();
    }
  });
});

describe('tenant read transactions', () => {
  it('plan each statement for its parameters (no cached generic plan, blind to the time range and the q pattern)', async () => {
    const [row] = await withTenant(reader, busy.clientId, (tx) => tx`select current_setting('plan_cache_mode') as mode`);
    expect(row!.mode).toBe('force_custom_plan');
    // transaction-local: the pooled session keeps its default afterwards
    const [after] = await reader`select current_setting('plan_cache_mode') as mode`;
    expect(after!.mode).toBe('auto');
  });
});
