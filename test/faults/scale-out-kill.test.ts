// Fault 2: two ingest-api and two worker processes; one of each killed (-9) and restarted under load.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFaultHarness, sleep, type FaultHarness } from '../support/fault-harness.js';
import { SteadyLoad, tally } from '../support/load.js';
import { createTenant, waitFor } from '../support/stack.js';

let h: FaultHarness;
beforeAll(async () => {
  h = await createFaultHarness();
});
afterAll(async () => {
  await h?.close();
});

it('two of each, one of each killed and restarted: every accepted event stored exactly once', async () => {
  const tenant = await createTenant(h.db.sql, 'agent');
  const ingests = [await h.start('ingest-api'), await h.start('ingest-api')];
  const workers = [await h.start('worker'), await h.start('worker')];
  // a load balancer's view: the processes that are up
  let live = ingests.map((p) => `http://127.0.0.1:${p.port}`);
  const load = new SteadyLoad(() => live, tenant.key, { batch: 20, concurrency: 6 });
  load.start();
  await sleep(2_000);

  live = [live[1]!];
  await Promise.all([ingests[0]!.kill('SIGKILL'), workers[0]!.kill('SIGKILL')]);
  await sleep(1_000);
  const [ingest3] = await Promise.all([h.start('ingest-api'), h.start('worker')]);
  live = [...live, `http://127.0.0.1:${ingest3.port}`];
  await sleep(2_000);
  await load.stop();

  await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(h.db.sql, tenant.clientId, load);
  console.log(
    `[fault 2] ${load.accepted.size} events accepted by 2+1 ingest-api, stored ${result.stored} by 2+1 workers; outcomes ${JSON.stringify(Object.fromEntries(load.outcomes))}`,
  );
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
  expect(load.count('500')).toBe(0);
});
