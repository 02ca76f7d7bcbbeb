// Fault 6: an event Postgres rejects at insert although it passed validation.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { evaluateAlerts } from '@central-logger/alerts';
import { createFaultHarness, sleep, type FaultHarness } from '../support/fault-harness.js';
import { SteadyLoad, tally } from '../support/load.js';
import { createTenant, event, postLogs, waitFor } from '../support/stack.js';

let h: FaultHarness;
beforeAll(async () => {
  h = await createFaultHarness();
  // valid at the edge, refused by the database: a stand-in for any constraint the edge cannot know
  await h.db.sql.unsafe(`
    create function refuse_poison() returns trigger language plpgsql as $$
    begin
      if new.message = 'poison' then raise exception 'poisoned event' using errcode = '22023'; end if;
      return new;
    end $$;
    create trigger refuse_poison before insert on workflow_logs for each row execute function refuse_poison();`);
});
afterAll(async () => {
  await h?.close();
});

it('sets a poison event aside in dead_letter_events, stores the events around it, and never stalls the queue', async () => {
  const tenant = await createTenant(h.db.sql, 'agent');
  const ingest = await h.start('ingest-api');
  const worker = await h.start('worker');
  const base = `http://127.0.0.1:${ingest.port}`;
  const load = new SteadyLoad(() => [base], tenant.key, { batch: 20, concurrency: 3 });
  load.start();
  await sleep(1_000);
  const mixed = await postLogs(base, tenant.key, [event({ event_id: 'before' }), event({ event_id: 'bad', message: 'poison' }), event({ event_id: 'after' })]);
  expect(mixed.status).toBe(202);
  await sleep(1_500);
  await load.stop();

  const letter = await waitFor(async () => (await h.db.sql`select * from dead_letter_events where event_id = 'bad'`)[0], 15_000, 'the dead letter');
  expect(letter).toMatchObject({ client_id: tenant.clientId, error_code: '22023', error_message: 'poisoned event' });
  const around = await h.db
    .sql`select event_id from workflow_logs where client_id = ${tenant.clientId} and event_id in ('before', 'after', 'bad') order by event_id`;
  expect(around.map((r) => r.event_id)).toEqual(['after', 'before']);

  await waitFor(async () => (await tally(h.db.sql, tenant.clientId, load)).missing.length === 0, 30_000, 'the load after the poison stored');
  const result = await tally(h.db.sql, tenant.clientId, load);
  expect(result.duplicated).toEqual([]);
  expect(await h.queue.getFailedCount()).toBe(0);
  expect(worker.lines.join('\n')).toMatch(/kept in dead_letter_events/);
  // the alert rule the worker runs on its schedule, run now
  await evaluateAlerts(h.db.sql);
  const [alert] = await h.db.sql`select * from alerts where rule = 'dead_letters' and subject = ${tenant.clientId}`;
  expect(alert).toMatchObject({ severity: 'critical', client_id: tenant.clientId, evidence: { events: 1, sample_event_ids: ['bad'], error_codes: ['22023'] } });
  console.log(`[fault 6] 1 poison event dead-lettered and alerted; ${load.accepted.size} load events and the 2 beside it stored; 0 failed jobs`);
});
