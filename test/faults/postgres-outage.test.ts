// Fault 3: Postgres stopped for 20 s under load, then started again.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createClient, createSql, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { SteadyLoad, tally } from '../support/load.js';
import { killAllChildren, startApp } from '../support/child-processes.js';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-services.js';
import { deleteRedisKeys, FREE_PORTS, REDIS_URL, waitFor } from '../support/stack.js';

let pg: PrivatePostgres;
let sql: Sql;
let env: Record<string, string>;

beforeAll(async () => {
  pg = await startPrivatePostgres();
  const url = pg.url('central_logger');
  await ensureDatabase(url);
  sql = createSql(url, { max: 2 });
  await migrate(sql);
  env = {
    NODE_ENV: 'test',
    DATABASE_URL: url,
    REDIS_URL,
    QUEUE_PREFIX: `{pgout${Date.now()}}`,
    // every listener on a free port: the worker's metrics port too, so this runs beside `npm start`
    ...FREE_PORTS,
    BCRYPT_COST: '4',
    JOB_BACKOFF_MS: '250',
    DATABASE_POOL_SIZE: '4',
  };
});
afterAll(async () => {
  // by process group, every process this file started, also after a failed test
  await killAllChildren();
  await sql?.end({ timeout: 1 }).catch(() => {});
  pg?.destroy();
  await deleteRedisKeys(env.QUEUE_PREFIX!);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('keeps answering 202 from the queue while Postgres is down for 20 s, and drains the backlog after', async () => {
  await createClient(sql, 'pg_outage', 'outage');
  const { key } = await createKey(sql, { name: 'k', role: 'agent', clientId: 'pg_outage', bcryptCost: 4 });
  const ingest = await startApp('ingest-api', env);
  await startApp('worker', env);
  const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], key, { batch: 10, concurrency: 2, pauseMs: 20 });
  load.start();
  await sleep(2_000);

  await sql.end({ timeout: 1 });
  pg.stop();
  const downAt = Date.now();
  const acceptedBefore = load.accepted.size;
  await sleep(20_000);
  const acceptedDuring = load.accepted.size - acceptedBefore;
  const outcomesDuring = Object.fromEntries(load.outcomes);
  pg.start();
  const upAt = Date.now();
  await sleep(2_000);
  await load.stop();

  sql = createSql(pg.url('central_logger'), { max: 2 });
  const drained = await waitFor(async () => (await tally(sql, 'pg_outage', load)).missing.length === 0 && Date.now(), 90_000, 'the backlog to drain');
  const result = await tally(sql, 'pg_outage', load);
  console.log(
    `[fault 3] Postgres down ${((upAt - downAt) / 1000).toFixed(0)} s: ${acceptedDuring} events accepted meanwhile; backlog drained ${((drained - upAt) / 1000).toFixed(1)} s after restart; ${result.stored} stored of ${load.accepted.size} accepted; outcomes ${JSON.stringify(outcomesDuring)}`,
  );
  expect(acceptedDuring).toBeGreaterThan(0);
  expect(load.count('500')).toBe(0);
  expect(load.count('network')).toBe(0);
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
});
