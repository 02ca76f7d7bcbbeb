import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, startStack } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('backpressure', () => {
  it('503 unavailable with Retry-After once the queue backlog passes its bound, 202 again when it drains', async () => {
    const stack = await startStack(db, { MAX_QUEUE_BACKLOG_JOBS: '3', BACKLOG_SAMPLE_MS: '1', GROUP_COMMIT_MS: '0', UNAVAILABLE_RETRY_AFTER_S: '7' }, { worker: false });
    try {
      const t = await createTenant(db.sql, 'agent');
      const statuses: number[] = [];
      let refused: Awaited<ReturnType<typeof postLogs>> | undefined;
      for (let i = 0; i < 10 && !refused; i++) {
        const res = await postLogs(stack.baseUrl, t.key, event());
        statuses.push(res.status);
        if (res.status !== 202) refused = res;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(refused?.status).toBe(503);
      expect(refused?.body.error).toBe('unavailable');
      expect(refused?.headers.get('retry-after')).toBe('7');
      // the limits' state is shown (here the daily quota is the closest to running out), though the refused request took nothing
      expect(refused?.headers.get('ratelimit-limit')).toBe('50000000');
      expect(refused?.headers.get('ratelimit-remaining')).toBe(String(50_000_000 - statuses.filter((s) => s === 202).length));
      expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(4);
      expect(await stack.queue.getWaitingCount()).toBeLessThanOrEqual(6);

      await stack.queue.drain();
      await postLogs(stack.baseUrl, t.key, event()); // triggers a fresh sample
      await new Promise((r) => setTimeout(r, 50));
      expect((await postLogs(stack.baseUrl, t.key, event())).status).toBe(202);
    } finally {
      await stack.close();
    }
  });
});
