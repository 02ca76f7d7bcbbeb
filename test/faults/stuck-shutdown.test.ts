// Fault 7: a worker's graceful shutdown that cannot finish (its INSERT waits on
// a table another session has locked) ends after SHUTDOWN_TIMEOUT_MS instead of
// hanging; the job it left is delivered again and its event stored once.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createFaultHarness, sleep, type FaultHarness } from '../support/fault-harness.js';
import { createTenant, postLogs, event, waitFor } from '../support/stack.js';

let h: FaultHarness;
beforeAll(async () => {
  h = await createFaultHarness({ SHUTDOWN_TIMEOUT_MS: '1500', LOCK_DURATION_MS: '2000', STALLED_INTERVAL_MS: '2000' });
});
afterAll(async () => {
  await h?.close();
});

it('worker: a shutdown stuck on a locked table exits after SHUTDOWN_TIMEOUT_MS; the job is delivered again and stored once', async () => {
  const tenant = await createTenant(h.db.sql, 'agent');
  const ingest = await h.start('ingest-api');
  const worker = await h.start('worker');
  const locker = await h.db.sql.reserve();
  try {
    await locker`begin`;
    await locker`lock table workflow_logs in access exclusive mode`;
    const accepted = await postLogs(`http://127.0.0.1:${ingest.port}`, tenant.key, [event()]);
    expect(accepted.status).toBe(202);
    // the worker's INSERT is now waiting for the lock
    await waitFor(
      async () => {
        const [row] = await h.db
          .sql`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike '%insert into workflow_logs%'`;
        return row!.n > 0;
      },
      10_000,
      "the worker's INSERT to wait on the lock",
    );

    const termAt = Date.now();
    const exit = await Promise.race([worker.kill('SIGTERM'), sleep(8_000).then(() => 'still running')]);
    expect(exit).toBe(1);
    expect(Date.now() - termAt).toBeLessThan(5_000);
    expect(worker.lines.join('\n')).toMatch(/shutdown did not finish in time/);

    await locker`rollback`;
    // another worker takes the job once its lock lapses; the event is stored exactly once
    await h.start('worker');
    const stored = async () => (await h.db.sql`select event_id from workflow_logs where client_id = ${tenant.clientId}`).map((r) => r.event_id as string);
    await waitFor(async () => (await stored()).length > 0, 20_000, 'the event stored');
    await waitFor(async () => (await h.queue.getActiveCount()) + (await h.queue.getWaitingCount()) === 0, 20_000, 'the queue to drain');
    expect(await stored()).toEqual(accepted.body.ids);
    expect(await h.queue.getFailedCount()).toBe(0);
  } finally {
    await locker`rollback`.catch(() => {});
    locker.release();
  }
});
