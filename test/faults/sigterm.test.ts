// Fault 5: SIGTERM of ingest-api and of the worker under load.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('graceful shutdown under load', () => {
  it('ingest-api: in-flight requests complete, the port closes, the process exits 0, nothing accepted is lost', async () => {
    const tenant = await createTenant(h.db.sql, 'agent');
    const [a, b] = [await h.start('ingest-api'), await h.start('ingest-api')];
    await h.start('worker');
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

    await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 30_000, 'every accepted event stored');
    const result = await tally(h.db.sql, tenant.clientId, load);
    console.log(`[fault 5a] ${load.accepted.size} events accepted; outcomes ${JSON.stringify(Object.fromEntries(load.outcomes))}`);
    expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
    expect(load.count('500')).toBe(0);
    // every request that reached the stopping process before SIGTERM got its answer
    expect(load.unanswered.filter((u) => u.startedAt < termAt)).toEqual([]);
    expect(a.lines.join('\n')).toMatch(/shutting down/);
  });

  it('worker: the current batch is finished or left for another worker, never dropped', async () => {
    const tenant = await createTenant(h.db.sql, 'agent');
    const ingest = h.apps.find((p) => p.name === 'ingest-api' && p.child.exitCode === null) ?? (await h.start('ingest-api'));
    const first = h.apps.find((p) => p.name === 'worker' && p.child.exitCode === null)!;
    const load = new SteadyLoad(() => [`http://127.0.0.1:${ingest.port}`], tenant.key, { batch: 20, concurrency: 4 });
    load.start();
    await sleep(1_500);
    await waitFor(async () => (await h.queue.getActiveCount()) > 0, 10_000, 'an active job');
    const stopping = first.kill('SIGTERM');
    await h.start('worker');
    expect(await stopping).toBe(0);
    await sleep(1_000);
    await load.stop();

    await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 30_000, 'every accepted event stored');
    const result = await tally(h.db.sql, tenant.clientId, load);
    console.log(`[fault 5b] ${load.accepted.size} events accepted, ${result.stored} stored after a worker SIGTERM`);
    expect(result).toMatchObject({ missing: [], duplicated: [], foreign: [] });
    expect(await h.queue.getFailedCount()).toBe(0);
  });
});
