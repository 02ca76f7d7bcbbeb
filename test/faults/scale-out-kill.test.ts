// Fault 2: two ingest-api and two worker processes; one of each killed (-9) and restarted under load.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SteadyLoad, tally } from '../support/load.js';
import { startApp, type AppProcess } from '../support/child-processes.js';
import { createTenant, deleteRedisKeys, testEnv, waitFor } from '../support/stack.js';

let db: TestDatabase;
let env: Record<string, string>;
const apps: AppProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  env = testEnv(db, { LOCK_DURATION_MS: '5000', STALLED_INTERVAL_MS: '5000' });
});
afterAll(async () => {
  for (const app of apps) await app.kill('SIGKILL');
  await deleteRedisKeys(env.QUEUE_PREFIX!);
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function started(name: 'ingest-api' | 'worker'): Promise<AppProcess> {
  const app = await startApp(name, env);
  apps.push(app);
  return app;
}

it('two of each, one of each killed and restarted: every accepted event stored exactly once', async () => {
  const tenant = await createTenant(db.sql, 'agent');
  const ingests = [await started('ingest-api'), await started('ingest-api')];
  const workers = [await started('worker'), await started('worker')];
  // a load balancer's view: the processes that are up
  let live = ingests.map((p) => `http://127.0.0.1:${p.port}`);
  const load = new SteadyLoad(() => live, tenant.key, { batch: 20, concurrency: 6 });
  load.start();
  await sleep(2_000);

  live = [live[1]!];
  await Promise.all([ingests[0]!.kill('SIGKILL'), workers[0]!.kill('SIGKILL')]);
  await sleep(1_000);
  const [ingest3] = await Promise.all([started('ingest-api'), started('worker')]);
  live = [...live, `http://127.0.0.1:${ingest3.port}`];
  await sleep(2_000);
  await load.stop();

  await waitFor(async () => (await tally(db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(db.sql, tenant.clientId, load);
  console.log(`[fault 2] ${load.accepted.size} events accepted by 2+1 ingest-api, stored ${result.stored} by 2+1 workers; outcomes ${JSON.stringify(Object.fromEntries(load.outcomes))}`);
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
  expect(load.count('500')).toBe(0);
});
