// Fault 4: Redis killed (-9) and restarted under load, with AOF on as docker-compose.yml runs it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { SteadyLoad, tally } from '../support/load.js';
import { killAllChildren, startApp } from '../support/child-processes.js';
import { startPrivateRedis, type PrivateRedis } from '../support/private-services.js';
import { createTenant, testEnv, waitFor } from '../support/stack.js';

let db: TestDatabase;
let redis: PrivateRedis;
let env: Record<string, string>;

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await startPrivateRedis();
  env = testEnv(db, { REDIS_URL: redis.url, LOCK_DURATION_MS: '5000', STALLED_INTERVAL_MS: '5000' });
});
afterAll(async () => {
  // by process group, every process this file started, also after a failed test
  await killAllChildren();
  await redis?.destroy();
  await db?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('answers 503 (never 202, never 500) while Redis is down, recovers by itself, and loses no accepted event', async () => {
  const tenant = await createTenant(db.sql, 'agent');
  const ingest = await startApp('ingest-api', env);
  await startApp('worker', env);
  const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 10, concurrency: 3, pauseMs: 10 });
  load.start();
  await sleep(2_000);

  await redis.stop(true);
  const acceptedBefore = load.accepted.size;
  await sleep(3_000);
  const acceptedWhileDown = load.accepted.size - acceptedBefore;
  const unavailable = load.count('503');
  await redis.start();
  const upAt = Date.now();
  const recovered = await waitFor(async () => load.accepted.size > acceptedBefore + acceptedWhileDown + 100 && Date.now(), 30_000, '202s again');
  await sleep(1_000);
  await load.stop();

  await waitFor(async () => (await tally(db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(db.sql, tenant.clientId, load);
  console.log(
    `[fault 4] Redis killed 3 s: ${unavailable} requests answered 503, ${acceptedWhileDown} events accepted while down; 202s again ${((recovered - upAt) / 1000).toFixed(1)} s after restart; ${result.stored} stored of ${load.accepted.size} accepted; outcomes ${JSON.stringify(Object.fromEntries(load.outcomes))}`,
  );
  expect(unavailable).toBeGreaterThan(0);
  expect(load.count('500')).toBe(0);
  expect(load.count('network')).toBe(0);
  for (const body of load.serverErrors) expect(JSON.parse(body)).toMatchObject({ error: 'unavailable' });
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
});
