import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, startStack, type Stack, type Tenant } from './support/stack.js';
import type { LogRow } from '@central-logger/db';
import { getJson, logRow, qs, seedLogs } from './support/reads.js';

let db: TestDatabase;
let stack: Stack;
let tenant: Tenant;
let other: Tenant;
let agent: Tenant;

// fixed hours of yesterday (UTC) so buckets are predictable
const day = new Date(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`).getTime() - 86_400_000;
const at = (hour: number, minute = 0, second = 0) => new Date(day + hour * 3_600_000 + minute * 60_000 + second * 1000);
const iso = (d: Date) => d.toISOString();
const zero = { debug: 0, info: 0, warn: 0, error: 0, fatal: 0, none: 0 };

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: false });
  tenant = await createTenant(db.sql, 'reader');
  other = await createTenant(db.sql, 'owner');
  agent = await createTenant(db.sql, 'agent');
  const e = (d: Date, level: LogRow['level'], extra: Record<string, unknown> = {}) => logRow(tenant.clientId, { executed_at: iso(d), level, ...extra });
  await seedLogs(db.sql, [
    e(at(10, 0, 1), 'info'),
    e(at(10, 0, 59), 'error', { status: 'FAILURE', message: 'payment mismatch' }),
    e(at(10, 2), 'info', { environment: 'staging', metadata: { region: 'eu' } }),
    e(at(10, 7), 'warn', { workflow: 'billing', run_id: 'run-1' }),
    e(at(11, 30), null),
    e(at(13, 0), 'fatal', { status: 'FAILURE' }),
    // another tenant's rows never count
    logRow(other.clientId, { executed_at: iso(at(10, 1)), level: 'error' }),
    logRow(other.clientId, { executed_at: iso(at(10, 3)), level: 'error' }),
  ]);
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const histogram = (params: Record<string, string | undefined>, key = tenant.key) => getJson(stack.baseUrl, `/api/v1/logs/histogram${qs(params)}`, key);
const range = { from: iso(at(10)), to: iso(at(14)) };

describe('GET /api/v1/logs/histogram', () => {
  it('counts per hour split by level, every bucket present, oldest first', async () => {
    const res = await histogram({ ...range, interval: '1h' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ interval: '1h', from: range.from, to: range.to, total: 6 });
    expect(res.body.data).toEqual([
      { start: iso(at(10)), count: 4, levels: { ...zero, info: 2, error: 1, warn: 1 } },
      { start: iso(at(11)), count: 1, levels: { ...zero, none: 1 } },
      { start: iso(at(12)), count: 0, levels: zero },
      { start: iso(at(13)), count: 1, levels: { ...zero, fatal: 1 } },
    ]);
  });

  it('buckets by 1m and 5m aligned to the clock, and by 1d at UTC midnight', async () => {
    const minutes = await histogram({ from: iso(at(10)), to: iso(at(10, 10)), interval: '1m' });
    expect(minutes.body.data).toHaveLength(10);
    expect(minutes.body.data.map((b: { count: number }) => b.count)).toEqual([2, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    const fives = await histogram({ from: iso(at(10, 3)), to: iso(at(10, 10)), interval: '5m' });
    expect(fives.body.data).toEqual([
      { start: iso(at(10, 0)), count: 0, levels: zero },
      { start: iso(at(10, 5)), count: 1, levels: { ...zero, warn: 1 } },
    ]);
    const days = await histogram({ from: iso(at(-24)), to: iso(at(24)), interval: '1d' });
    expect(days.body.data).toEqual([
      { start: iso(at(-24)), count: 0, levels: zero },
      { start: iso(at(0)), count: 6, levels: { debug: 0, info: 2, warn: 1, error: 1, fatal: 1, none: 1 } },
    ]);
  });

  it('auto picks the narrowest interval giving at most 120 buckets', async () => {
    expect((await histogram({ from: iso(at(10)), to: iso(at(11)) })).body.interval).toBe('1m');
    expect((await histogram({ from: iso(at(10)), to: iso(at(16)) })).body.interval).toBe('5m');
    expect((await histogram(range)).body.interval).toBe('5m');
    const day1 = await histogram({ from: iso(at(0)), to: iso(at(24)), interval: 'auto' });
    expect(day1.body.interval).toBe('1h');
    expect(day1.body.data).toHaveLength(24);
    expect((await histogram({ from: '2026-01-01', to: '2026-03-01' })).body.interval).toBe('1d');
  });

  it('defaults to the 24 hours before now', async () => {
    const res = await histogram({});
    expect(res.status).toBe(200);
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(86_400_000);
    expect(res.body.interval).toBe('1h');
  });

  it.each([
    [{ status: 'FAILURE' }, 2],
    [{ environment: 'staging' }, 1],
    [{ workflow: 'billing' }, 1],
    [{ run_id: 'run-1' }, 1],
    [{ level: 'ERROR' }, 1],
    [{ q: 'MISMATCH' }, 1],
    [{ 'metadata.region': 'eu' }, 1],
  ])('filters like GET /api/v1/logs: %j', async (filter, total) => {
    const res = await histogram({ ...range, ...filter });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(total);
  });

  it("counts only the key's tenant's logs", async () => {
    const res = await histogram({ ...range, interval: '1h' }, other.key);
    expect(res.body.total).toBe(2);
    expect(res.body.data[0].levels.error).toBe(2);
  });

  it('needs a key with logs:read', async () => {
    expect((await histogram(range, '')).status).toBe(401);
    expect((await histogram(range, 'clk_nope')).status).toBe(401);
    expect((await histogram(range, agent.key)).status).toBe(403);
  });

  it.each([
    [{ interval: '2m' }, 'interval'],
    [{ interval: '1h', from: '2026-01-01', to: '2026-03-01' }, 'interval'],
    [{ interval: '1m', from: '2026-01-01', to: '2026-01-02' }, 'interval'],
    [{ from: '2000-01-01', to: '2026-01-01' }, 'interval'],
    [{ from: '2026-01-02', to: '2026-01-01' }, 'from'],
    [{ from: '0000-01-01', to: '2026-01-01' }, 'from'],
    [{ from: 'soon' }, 'from'],
    [{ status: 'a\u0000b' }, 'status'],
    [{ q: '\u0000' }, 'q'],
    [{ 'metadata.a': '\u0000' }, 'metadata.a'],
    [{ limit: '10' }, 'limit'],
    [{ cursor: 'x' }, 'cursor'],
    [{ client_id: 'cli_x' }, 'client_id'],
    [{ level: 'loud' }, 'level'],
  ])('400 validation_failed for %j', async (params, field) => {
    const res = await histogram(params as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    // the field is named in the message or in details
    expect(JSON.stringify([res.body.message, res.body.details ?? []])).toContain(field);
  });

  it('400 when a parameter is repeated', async () => {
    const res = await getJson(stack.baseUrl, '/api/v1/logs/histogram?interval=1h&interval=1m', tenant.key);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('interval');
  });
});
