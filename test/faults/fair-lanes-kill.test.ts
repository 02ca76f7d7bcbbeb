// Fault 1 again, with fair persistence in play: a fair share so small that
// most of the load goes to the bulk lane (the logs-bulk queue, its own
// BullMQ worker) and some to the fast lane (logs), then kill -9 of the
// worker while it holds jobs of both queues: each queue's stalled-job check
// brings its own back.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFaultHarness, sleep, type FaultHarness } from '../support/fault-harness.js';
import { SteadyLoad, tally } from '../support/load.js';
import { createTenant, waitFor } from '../support/stack.js';

let h: FaultHarness;
beforeAll(async () => {
  h = await createFaultHarness({ FAIR_SHARE_EVENTS_PER_SECOND: '100', FAIR_SHARE_BURST: '100' });
});
afterAll(async () => {
  await h?.close();
});

it('loses nothing and stores nothing twice across both lanes when the worker is killed mid-batch', async () => {
  const tenant = await createTenant(h.db.sql, 'agent');
  const ingest = await h.start('ingest-api');
  const worker = await h.start('worker');
  const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 20, concurrency: 4 });
  load.start();
  await sleep(2_000);

  await waitFor(async () => (await h.queue.getActiveCount()) > 0 && (await h.bulkQueue.getActiveCount()) > 0, 10_000, 'active jobs in both lanes');
  await worker.kill('SIGKILL');
  await h.start('worker');
  await sleep(3_000);
  await load.stop();

  await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 60_000, 'every accepted event stored');
  const result = await tally(h.db.sql, tenant.clientId, load);
  expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
  expect(load.count('500')).toBe(0);
  // both lanes were used, and neither keeps a job behind
  // (a stored job is deleted at once: the workers' completion counts, BullMQ metrics, show each lane did work)
  for (const q of [h.queue, h.bulkQueue]) expect(Number((await q.getMetrics('completed')).meta.count)).toBeGreaterThan(0);
  // (a job the killed worker held and had stored stays active until the stalled-job check hands it back
  // and it is stored again as a no-op: up to lock + 2 × stalled interval after the kill)
  const settled = async () => Promise.all([h.queue, h.bulkQueue].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'failed')));
  await waitFor(async () => (await settled()).every((c) => Object.values(c).every((n) => n === 0)), 30_000, 'both queues to settle');
  for (const counts of await settled()) expect(counts).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  expect(await tally(h.db.sql, tenant.clientId, load)).toMatchObject({ missing: [], duplicated: [], foreign: [] });
});
