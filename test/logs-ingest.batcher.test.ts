import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRow } from '@central-logger/db';
import { LogBatcher } from '../apps/worker/src/batcher.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.sql`insert into clients (id, name) values ('batcher', 'b')`;
});
afterAll(async () => {
  await db?.drop();
});

const row = (i: number): LogRow => ({
  client_id: 'batcher',
  event_id: `e${String(i).padStart(4, '0')}`,
  executed_at: '2026-01-06T12:00:00.000Z',
  received_at: '2026-01-06T12:00:00.000Z',
  environment: 'p',
  status: 'OK',
  workflow: null,
  run_id: null,
  level: null,
  message: null,
  duration_ms: null,
  metadata: {},
});

describe('LogBatcher', () => {
  it('runs INSERTs side by side without deadlocking when they hold the same keys in opposite orders', async () => {
    const batcher = new LogBatcher(db.sql, { maxRows: 10_000, flushMs: 10_000, maxInFlight: 2 });
    for (let round = 0; round < 5; round++) {
      const rows = Array.from({ length: 300 }, (_, i) => row(round * 1000 + i));
      const a = batcher.add(rows.map((r) => ({ ...r })));
      void batcher.flush();
      const b = batcher.add(rows.map((r) => ({ ...r })).reverse());
      void batcher.flush();
      await Promise.all([a, b]);
    }
    const [counted] = await db.sql`select count(*)::int as n from workflow_logs where client_id = 'batcher'`;
    expect(counted!.n).toBe(1500);
  });
});
