// Fault 1: kill -9 of the worker in the middle of a batch, then a restart.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { QUEUES } from '@central-logger/queue';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SteadyLoad, tally } from '../support/load.js';
import { startApp, type AppProcess } from '../support/child-processes.js';
import { createTenant, deleteRedisKeys, REDIS_URL, testEnv, waitFor, type Tenant } from '../support/stack.js';

let db: TestDatabase;
let env: Record<string, string>;
let tenant: Tenant;
const apps: AppProcess[] = [];
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db, { LOCK_DURATION_MS: '5000', STALLED_INTERVAL_MS: '5000' });
  tenant = await createTenant(db.sql, 'agent');
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.logs, { connection: redis, prefix: env.QUEUE_PREFIX });
});
afterAll(async () => {
  for (const app of apps) await app.kill('SIGKILL');
  await queue?.close();
  redis?.disconnect();
  await deleteRedisKeys(env.QUEUE_PREFIX!);
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('loses nothing and stores nothing twice when the worker is killed mid-batch; in-flight events reappear within 20 s', async () => {
  const ingest = await startApp('ingest-api', env);
  const worker = await startApp('worker', env);
  apps.push(ingest, worker);
  const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 20, concurrency: 4 });
  load.start();
  await sleep(2_000);

  // kill while the worker holds jobs
  await waitFor(async () => (await queue.getActiveCount()) > 0, 10_000, 'an active job');
  const killedAt = Date.now();
  await worker.kill('SIGKILL');
  const acceptedBeforeKill = [...load.accepted];
  apps.push(await startApp('worker', env));
  await sleep(3_000);
  await load.stop();

  await waitFor(async () => (await tally(db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(db.sql, tenant.clientId, load);
  expect(result.missing).toEqual([]);
  expect(result.duplicated).toEqual([]);
  expect(result.foreign).toEqual([]);
  expect(load.count('500')).toBe(0);

  const [{ latest }] = (await db.sql`
    select max(stored_at) as latest from workflow_logs
    where client_id = ${tenant.clientId} and event_id = any(${acceptedBeforeKill})`) as unknown as [{ latest: Date }];
  const invisibleMs = latest.getTime() - killedAt;
  console.log(`[fault 1] accepted ${load.accepted.size} events, stored ${result.stored}; events in flight at kill -9 were invisible for ${(invisibleMs / 1000).toFixed(1)} s`);
  expect(invisibleMs).toBeLessThan(20_000);
});
