// Fault 5: SIGTERM of ingest-api and of the worker under load.
import { connect } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '@central-logger/queue';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SteadyLoad, tally } from '../support/load.js';
import { startApp, type AppProcess } from '../support/child-processes.js';
import { createTenant, deleteRedisKeys, REDIS_URL, testEnv, waitFor } from '../support/stack.js';

let db: TestDatabase;
let env: Record<string, string>;
const apps: AppProcess[] = [];
let redis: Redis;
let queue: Queue;

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db, { LOCK_DURATION_MS: '5000', STALLED_INTERVAL_MS: '5000' });
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
const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });

async function started(name: 'ingest-api' | 'worker'): Promise<AppProcess> {
  const app = await startApp(name, env);
  apps.push(app);
  return app;
}

describe('graceful shutdown under load', () => {
  it('ingest-api: in-flight requests complete, the port closes, the process exits 0, nothing accepted is lost', async () => {
    const tenant = await createTenant(db.sql, 'agent');
    const [a, b] = [await started('ingest-api'), await started('ingest-api')];
    await started('worker');
    let targets = [`http://127.0.0.1:${a.port}`, `http://127.0.0.1:${b.port}`];
    const load = new SteadyLoad(() => targets, tenant.key, { batch: 20, concurrency: 6 });
    load.start();
    await sleep(2_000);
    const termAt = Date.now();
    const code = a.kill('SIGTERM');
    // clients move to the survivor, as behind a load balancer
    await sleep(50);
    targets = [`http://127.0.0.1:${b.port}`];
    expect(await code).toBe(0);
    expect(await portOpen(a.port!)).toBe(false);
    await sleep(1_000);
    await load.stop();

    await waitFor(async () => (await tally(db.sql, tenant.clientId, load)).missing.length === 0, 30_000, 'every accepted event stored');
    const result = await tally(db.sql, tenant.clientId, load);
    console.log(`[fault 5a] ${load.accepted.size} events accepted; outcomes ${JSON.stringify(Object.fromEntries(load.outcomes))}`);
    expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
    expect(load.count('500')).toBe(0);
    // every request that reached the stopping process before SIGTERM got its answer
    expect(load.unanswered.filter((u) => u.startedAt < termAt)).toEqual([]);
    expect(a.lines.join('\n')).toMatch(/shutting down/);
  });

  it('worker: the current batch is finished or left for another worker, never dropped', async () => {
    const tenant = await createTenant(db.sql, 'agent');
    const ingest = apps.find((p) => p.name === 'ingest-api' && p.child.exitCode === null) ?? (await started('ingest-api'));
    const first = apps.find((p) => p.name === 'worker' && p.child.exitCode === null)!;
    const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 20, concurrency: 4 });
    load.start();
    await sleep(1_500);
    await waitFor(async () => (await queue.getActiveCount()) > 0, 10_000, 'an active job');
    const stopping = first.kill('SIGTERM');
    await started('worker');
    expect(await stopping).toBe(0);
    await sleep(1_000);
    await load.stop();

    await waitFor(async () => (await tally(db.sql, tenant.clientId, load)).missing.length === 0, 30_000, 'every accepted event stored');
    const result = await tally(db.sql, tenant.clientId, load);
    console.log(`[fault 5b] ${load.accepted.size} events accepted, ${result.stored} stored after a worker SIGTERM`);
    expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
    expect(await queue.getFailedCount()).toBe(0);
  });
});
