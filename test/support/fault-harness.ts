import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUES } from '@central-logger/queue';
import { killAllChildren, startApp, type AppName, type AppProcess } from './child-processes.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { deleteRedisKeys, testEnv } from './stack.js';

/** What a fault test works with: its own database and queue, and the app processes it started. */
export interface FaultHarness {
  db: TestDatabase;
  env: Record<string, string>;
  /** The logs queue (the fast lane), for inspection. */
  queue: Queue;
  /** The bulk lane's queue (logs-bulk), for inspection. */
  bulkQueue: Queue;
  apps: AppProcess[];
  /** Starts an app as a child process with this harness's environment (ready within `timeoutMs`, default 20 s). */
  start(name: AppName, timeoutMs?: number): Promise<AppProcess>;
  /** Kills every app (by process group), then removes the queue's keys and the database. */
  close(): Promise<void>;
}

export async function createFaultHarness(extraEnv: Record<string, string> = {}): Promise<FaultHarness> {
  const db = await createTestDatabase();
  // jobs of a dead worker come back after about lock + 2 × stalled interval
  const env = testEnv(db, { LOCK_DURATION_MS: '5000', STALLED_INTERVAL_MS: '5000', ...extraEnv });
  const redis = new Redis(env.REDIS_URL!, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const queue = new Queue(QUEUES.logs, { connection: redis, prefix: env.QUEUE_PREFIX });
  const bulkQueue = new Queue(QUEUES.logsBulk, { connection: redis, prefix: env.QUEUE_PREFIX });
  const apps: AppProcess[] = [];
  return {
    db,
    env,
    queue,
    bulkQueue,
    apps,
    async start(name, timeoutMs) {
      const app = await startApp(name, env, timeoutMs);
      apps.push(app);
      return app;
    },
    async close() {
      // every process this file started, also one whose start failed before it joined `apps`
      await killAllChildren();
      await queue.close().catch(() => {});
      await bulkQueue.close().catch(() => {});
      redis.disconnect();
      await deleteRedisKeys(env.QUEUE_PREFIX!).catch(() => {});
      await db.drop();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
