import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { RATE_KEY_REQUESTS_PER_SECOND: '20', RATE_KEY_REQUEST_BURST: '20', RATE_KEY_EVENTS_PER_SECOND: '2000', RATE_KEY_EVENT_BURST: '2000' });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

describe('fairness', () => {
  it('one tenant saturating its limit does not keep another tenant\'s events out or waiting', async () => {
    const flooder = await createTenant(db.sql, 'agent', 'flood');
    const quiet = await createTenant(db.sql, 'agent', 'quiet');
    const batch = () => Array.from({ length: 100 }, () => event({ message: 'flood' }));
    let stop = false;
    const flooderStatuses: number[] = [];
    const flood = Promise.all(Array.from({ length: 8 }, async () => {
      while (!stop) flooderStatuses.push((await postLogs(stack.baseUrl, flooder.key, batch())).status);
    }));
    try {
      await waitFor(async () => flooderStatuses.includes(429), 10_000, 'the flooder to hit its limit');
      const quietIds: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await postLogs(stack.baseUrl, quiet.key, event({ message: `quiet ${i}` }));
        expect(res.status).toBe(202);
        quietIds.push(...res.body.ids);
      }
      // still flooding: the quiet tenant's events are stored while the flood goes on
      await waitFor(async () => (await db.sql`select 1 from workflow_logs where client_id = ${quiet.clientId}`).length === 10, 5_000, 'the quiet tenant\'s events');
      expect(stop).toBe(false);
    } finally {
      stop = true;
      await flood;
    }
    expect(flooderStatuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(flooderStatuses.every((s) => s === 202 || s === 429)).toBe(true);
    // every flood event that was accepted is stored too
    const accepted = flooderStatuses.filter((s) => s === 202).length * 100;
    await waitFor(async () => Number((await db.sql`select count(*)::int as n from workflow_logs where client_id = ${flooder.clientId}`)[0]!.n) === accepted, 20_000, 'the flood to be stored');
  });
});
