// Fault 1: kill -9 of the worker in the middle of a batch, then a restart.
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

it('loses nothing and stores nothing twice when the worker is killed mid-batch; in-flight events reappear within 20 s', async () => {
  const tenant = await createTenant(h.db.sql, 'agent');
  const ingest = await h.start('ingest-api');
  const worker = await h.start('worker');
  const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 20, concurrency: 4 });
  load.start();
  await sleep(2_000);

  // kill while the worker holds jobs
  await waitFor(async () => (await h.queue.getActiveCount()) > 0, 10_000, 'an active job');
  const killedAt = Date.now();
  await worker.kill('SIGKILL');
  const acceptedBeforeKill = [...load.accepted];
  await h.start('worker');
  await sleep(3_000);
  await load.stop();

  await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(h.db.sql, tenant.clientId, load);
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
  expect(load.count('500')).toBe(0);

  const [{ latest }] = (await h.db.sql`
    select max(stored_at) as latest from workflow_logs
    where client_id = ${tenant.clientId} and event_id = any(${acceptedBeforeKill})`) as unknown as [{ latest: Date }];
  const invisibleMs = latest.getTime() - killedAt;
  console.log(
    `[fault 1] accepted ${load.accepted.size} events, stored ${result.stored}; events in flight at kill -9 were invisible for ${(invisibleMs / 1000).toFixed(1)} s`,
  );
  expect(invisibleMs).toBeLessThan(20_000);
});
