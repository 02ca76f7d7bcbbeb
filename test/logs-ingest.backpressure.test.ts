import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { Redis } from 'ioredis';
import { startPrivateRedis } from './support/private-services.js';
import { createTenant, event, postLogs, startStack, waitFor } from './support/stack.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('backpressure', () => {
  it('503 unavailable with Retry-After once the queue backlog passes its bound, 202 again when it drains', async () => {
    const stack = await startStack(
      db,
      { MAX_QUEUE_BACKLOG_JOBS: '3', BACKLOG_SAMPLE_MS: '1', GROUP_COMMIT_MS: '0', UNAVAILABLE_RETRY_AFTER_S: '7' },
      { worker: false },
    );
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

  it('503 unavailable with Retry-After while Redis uses most of its maxmemory, 202 again once it has room', async () => {
    // a Redis of this test's own: its maxmemory is changed
    const redis = await startPrivateRedis();
    const admin = new Redis(redis.url);
    const stack = await startStack(db, { REDIS_URL: redis.url, BACKLOG_SAMPLE_MS: '10', UNAVAILABLE_RETRY_AFTER_S: '7' }, { worker: false });
    try {
      const t = await createTenant(db.sql, 'agent');
      expect((await postLogs(stack.baseUrl, t.key, event())).status).toBe(202);
      // about 95% used: past MAX_REDIS_MEMORY_RATIO (0.9), still short of refusing writes
      const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(Math.ceil(used / 0.95)));
      const refused = await waitFor(
        async () => {
          const r = await postLogs(stack.baseUrl, t.key, event());
          return r.status !== 202 && r;
        },
        5_000,
        'a refusal',
      );
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: 'unavailable', message: 'The queue is nearly out of memory; retry later' });
      expect(refused.headers.get('retry-after')).toBe('7');

      await admin.config('SET', 'maxmemory', '0');
      await waitFor(async () => (await postLogs(stack.baseUrl, t.key, event())).status === 202, 5_000, '202 again');
    } finally {
      await stack.close();
      admin.disconnect();
      await redis.destroy();
    }
  });
});
