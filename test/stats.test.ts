import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';
import { getJson, logRow, qs, seedLogs } from './support/reads.js';

let db: TestDatabase;
let stack: Stack;
let tenant: Tenant;
let other: Tenant;

// fixed hours of today and yesterday (UTC) so buckets are predictable
const today = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`).getTime();
const at = (dayOffset: number, hour: number, minute = 0) => new Date(today + dayOffset * 86_400_000 + hour * 3_600_000 + minute * 60_000);
const iso = (d: Date) => d.toISOString();

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  tenant = await createTenant(db.sql, 'reader');
  other = await createTenant(db.sql, 'owner');
  const e = (d: Date, status: string, environment: string, workflow: string | null) =>
    logRow(tenant.clientId, { executed_at: iso(d), status, environment, workflow });
  await seedLogs(db.sql, [
    e(at(-1, 0, 5), 'SUCCESS', 'prod', 'billing'),
    e(at(-1, 0, 50), 'FAILURE', 'prod', 'billing'),
    e(at(-1, 5), 'SUCCESS', 'staging', 'emails'),
    e(at(0, 0, 1), 'SUCCESS', 'prod', null),
    // another tenant's rows never count
    logRow(other.clientId, { executed_at: iso(at(-1, 0, 5)), status: 'FAILURE' }),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const range = { from: iso(at(-2, 0)), to: iso(at(0, 1)) };
const stats = (params: Record<string, string | undefined>, key = tenant.key) => getJson(stack.baseUrl, `/api/v1/stats${qs(params)}`, key);

describe('GET /api/v1/stats', () => {
  it('counts by status, largest first', async () => {
    const res = await stats({ ...range, group_by: 'status' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ group_by: 'status', from: range.from, to: range.to, total: 4 });
    expect(res.body.data).toEqual([
      { key: 'SUCCESS', count: 3 },
      { key: 'FAILURE', count: 1 },
    ]);
  });

  it('counts by environment and by workflow (no workflow is null)', async () => {
    expect((await stats({ ...range, group_by: 'environment' })).body.data).toEqual([
      { key: 'prod', count: 3 },
      { key: 'staging', count: 1 },
    ]);
    expect((await stats({ ...range, group_by: 'workflow' })).body.data).toEqual([
      { key: 'billing', count: 2 },
      { key: 'emails', count: 1 },
      { key: null, count: 1 },
    ]);
  });

  it('counts by hour and by day in UTC buckets, oldest first', async () => {
    const hours = await stats({ ...range, group_by: 'hour' });
    expect(hours.body.data).toEqual([
      { key: iso(at(-1, 0)).replace('.000Z', '.000000Z'), count: 2 },
      { key: iso(at(-1, 5)).replace('.000Z', '.000000Z'), count: 1 },
      { key: iso(at(0, 0)).replace('.000Z', '.000000Z'), count: 1 },
    ]);
    const days = await stats({ ...range, group_by: 'day' });
    expect(days.body.data).toEqual([
      { key: iso(at(-1, 0)).replace('.000Z', '.000000Z'), count: 3 },
      { key: iso(at(0, 0)).replace('.000Z', '.000000Z'), count: 1 },
    ]);
  });

  it('honours from (inclusive) and to (exclusive)', async () => {
    const res = await stats({ from: iso(at(-1, 0, 50)), to: iso(at(0, 0, 1)), group_by: 'status' });
    expect(res.body.total).toBe(2);
  });

  it('defaults to group_by=status over the last 30 days', async () => {
    const res = await stats({});
    expect(res.body.group_by).toBe('status');
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(30 * 86_400_000);
    expect(res.body.total).toBe(4);
  });

  it.each([
    [{ group_by: 'tenant' }, 'group_by'],
    [{ group_by: 'status', client_id: other?.clientId ?? 'x' }, 'client_id'],
    [{ from: 'soon' }, 'from'],
    [{ from: '2026-01-02', to: '2026-01-01' }, 'from'],
    [{ 'metadata.a': 'b' }, 'metadata.a'],
    // more than 1,000 buckets would be cut short: refused instead
    [{ group_by: 'hour', from: '2026-01-01T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'from'],
  ])('400 validation_failed for %j', async (params, field) => {
    const res = await stats(params as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.message).toContain(field);
  });
});
