import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogBatcher } from '../apps/worker/src/batcher.js';
import { logRow } from './support/rows.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const row = logRow;
/** Opens the pool's connections, so that a second INSERT in flight does not wait for a connection to open. */
const warmPool = () => Promise.all(Array.from({ length: 3 }, () => db.sql`select pg_sleep(0.01)`));

describe('LogBatcher', () => {
  it('writes rows of many small concurrent adds in a few INSERTs, not one each', async () => {
    const batches: number[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 1000, flushMs: 20 }, (rows) => batches.push(rows));
    await Promise.all(Array.from({ length: 200 }, () => batcher.add([row('batched')])));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(200);
    expect(batches.length).toBeLessThanOrEqual(3);
    const [{ count }] = (await db.sql`select count(*)::int from workflow_logs where client_id = 'batched'`) as unknown as [{ count: number }];
    expect(count).toBe(200);
  });

  it('flushes at maxRows without waiting for the timer', async () => {
    const batches: number[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 10, flushMs: 60_000 }, (rows) => batches.push(rows));
    await Promise.all(Array.from({ length: 5 }, () => batcher.add([row('sized'), row('sized')])));
    expect(batches).toEqual([10]);
  });

  it('resolves an add only after its rows are committed', async () => {
    const batcher = new LogBatcher(db.sql, { maxRows: 1000, flushMs: 5 });
    const r = row('committed');
    await batcher.add([r]);
    const [found] = await db.sql`select event_id from workflow_logs where client_id = 'committed'`;
    expect(found?.event_id).toBe(r.event_id);
  });

  it('keeps rows Postgres refuses in dead_letter_events; the rest of their batch, and their own add, succeed', async () => {
    const dead: string[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 1000, flushMs: 20 }, undefined, (rows) => dead.push(...rows.map((r) => r.event_id)));
    const poison = row('split', { metadata: { bad: 'nul \u0000' } });
    const mixed = [row('split'), row('split'), poison, row('split'), row('split')];
    const results = await Promise.allSettled([
      batcher.add([row('split', { message: 'fine' })]),
      batcher.add(mixed),
      batcher.add([row('split', { message: 'also fine' })]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const [{ count }] = (await db.sql`select count(*)::int from workflow_logs where client_id = 'split'`) as unknown as [{ count: number }];
    expect(count).toBe(6);
    expect(dead).toEqual([poison.event_id]);
    const [letter] = await db.sql`select * from dead_letter_events where event_id = ${poison.event_id}`;
    expect(letter).toMatchObject({ client_id: 'split', error_code: '22P05' });
    expect(JSON.parse(letter!.payload as string).metadata).toEqual({ bad: 'nul \u0000' });
  });

  it('puts fast-lane rows into the next INSERT before bulk rows added earlier, and makes a batch only when an INSERT slot is free', async () => {
    await warmPool();
    const order: string[] = [];
    // no timer within the test: batches are made only as an INSERT finishes (and no express INSERT, which waits for the timer)
    const batcher = new LogBatcher(db.sql, { maxRows: 10, flushMs: 60_000, maxInFlight: 1 });
    const bulkRows = (n: number) => Array.from({ length: 10 }, () => row('lanes', { message: `bulk ${n}` }));
    const track = (p: Promise<void>, name: string) => p.then(() => void order.push(name));
    // a full bulk batch goes at once; four more wait while it is in flight, then a fast row comes
    const adds = [0, 1, 2, 3, 4].map((n) => track(batcher.add(bulkRows(n), 'bulk'), `bulk ${n}`));
    adds.push(track(batcher.add([row('lanes', { message: 'fast' })], 'fast'), 'fast'));
    await Promise.all(adds);
    // one INSERT at a time, so the order they settle in is the order they were written in
    expect(order).toEqual(['bulk 0', 'fast', 'bulk 1', 'bulk 2', 'bulk 3', 'bulk 4']);
    const [{ count }] = (await db.sql`select count(*)::int from workflow_logs where client_id = 'lanes'`) as unknown as [{ count: number }];
    expect(count).toBe(51);
  });

  it('while every INSERT slot is busy with bulk rows, fast rows go at once in an INSERT of their own', async () => {
    await warmPool();
    const order: string[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 20_000, flushMs: 5, maxInFlight: 1 });
    const big = batcher
      .add(
        Array.from({ length: 20_000 }, () => row('express', { message: 'bulk' })),
        'bulk',
      )
      .then(() => void order.push('bulk'));
    await new Promise((r) => setTimeout(r, 1));
    const fast = batcher.add([row('express', { message: 'fast' })], 'fast').then(() => void order.push('fast'));
    await Promise.all([big, fast]);
    expect(order).toEqual(['fast', 'bulk']);
  });

  it('expects new rows; a batch holding a stored row is written again skipping it, and so are the INSERTs after it for conflictHoldMs', async () => {
    const conflicts: number[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 1000, flushMs: 5, conflictHoldMs: 60_000, onConflict: (rows) => conflicts.push(rows) });
    const [a, b, c] = [row('held'), row('held'), row('held')];
    await batcher.add([a]);
    expect(conflicts).toEqual([]);
    // a redelivered row beside a new one: the plain INSERT is refused whole, then both are written skipping `a`
    await batcher.add([a, b]);
    expect(conflicts).toEqual([2]);
    // within the hold, a batch holding a stored row skips it from the start: no second refusal
    await batcher.add([b, c]);
    expect(conflicts).toEqual([2]);
    const stored = await db.sql`select event_id from workflow_logs where client_id = 'held' order by event_id`;
    expect(stored.map((r) => r.event_id)).toEqual([a.event_id, b.event_id, c.event_id].sort());
  });

  it('expects new rows again once the hold after a conflict is over', async () => {
    const conflicts: number[] = [];
    const batcher = new LogBatcher(db.sql, { maxRows: 1000, flushMs: 5, conflictHoldMs: 0, onConflict: (rows) => conflicts.push(rows) });
    const a = row('unheld');
    await batcher.add([a]);
    await batcher.add([a]);
    await batcher.add([a, row('unheld')]);
    expect(conflicts).toEqual([1, 2]);
    const [{ count }] = (await db.sql`select count(*)::int from workflow_logs where client_id = 'unheld'`) as unknown as [{ count: number }];
    expect(count).toBe(2);
  });

  it('fails the adds on an error that is not about the data, so their jobs are retried', async () => {
    const other = await createTestDatabase();
    const batcher = new LogBatcher(other.sql, { maxRows: 1000, flushMs: 5 });
    await other.sql`alter table workflow_logs rename to workflow_logs_away`;
    await expect(batcher.add([row('gone')])).rejects.toMatchObject({ code: '42P01' });
    await other.drop();
  });
});
