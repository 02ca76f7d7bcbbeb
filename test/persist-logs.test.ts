import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogsProducer, type EventGroup, type PersistLogsJob } from '@central-logger/queue';
import { queuedEvent } from './support/rows.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { REDIS_URL, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let redis: Redis;
let producer: LogsProducer;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, {}, { worker: true });
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  producer = new LogsProducer(redis, stack.env.QUEUE_PREFIX!, { attempts: 20, backoffMs: 100, timeoutMs: 2_000 });
  await waitFor(async () => redis.status === 'ready');
  await db.sql`create table fail_inserts (on_ boolean)`;
  // the trigger runs as the worker's role, which reads the switch
  await db.sql`grant select on fail_inserts to central_logger_worker`;
  // a switchable transient failure: while fail_inserts has a row, every insert raises 40001
  await db.sql.unsafe(`
    create function fail_while_flagged() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from fail_inserts) then
        raise exception 'simulated outage' using errcode = '40001';
      end if;
      return new;
    end $$;
    create trigger fail_while_flagged before insert on workflow_logs for each row execute function fail_while_flagged();`);
});
afterAll(async () => {
  await producer?.close();
  redis?.disconnect();
  await stack?.close();
  await db?.drop();
});

function job(clientId: string, events: Array<Partial<EventGroup['events'][number]>>): PersistLogsJob {
  return { groups: [group(clientId, events)] };
}

function group(clientId: string, events: Array<Partial<EventGroup['events'][number]>>): EventGroup {
  return {
    client_id: clientId,
    key_id: 'key_test',
    received_at: new Date().toISOString(),
    events: events.map((e) => queuedEvent({ executed_at: '2026-03-03T03:03:03.000Z', ...e })),
  };
}

/** The tenant of a queued job's (first) group. */
const clientOf = (data: { groups?: EventGroup[]; client_id?: string }) => data.groups?.[0]?.client_id ?? data.client_id;

const count = async (clientId: string) => (await db.sql`select count(*)::int as n from workflow_logs where client_id = ${clientId}`)[0]!.n as number;

describe('persist-logs worker', () => {
  it('stores a job delivered twice exactly once', async () => {
    const j = job('redeliver', [{ event_id: 'a' }, { event_id: 'b' }]);
    await producer.enqueue(j);
    await producer.enqueue(j);
    await waitFor(() => stack.drained());
    expect(await count('redeliver')).toBe(2);
  });

  it('completes every job of a burst only after its rows are stored, and then keeps no copy of its events in Redis', async () => {
    // at each job's completion, which of its events Postgres already holds (queried while the worker goes on)
    const checks: Array<Promise<{ id: string; expected: number; stored: number }>> = [];
    const onCompleted = (j: { id?: string; data: PersistLogsJob }) => {
      if (clientOf(j.data) !== 'many') return;
      const ids = j.data.groups.flatMap((g) => g.events.map((e) => e.event_id));
      checks.push(
        db.sql`select count(*)::int as n from workflow_logs where client_id = 'many' and event_id in ${db.sql(ids)}`.then((r) => ({
          id: j.id!,
          expected: ids.length,
          stored: r[0]!.n as number,
        })),
      );
    };
    stack.worker!.worker.on('completed', onCompleted);
    try {
      for (let i = 0; i < 50; i++) await producer.enqueue(job('many', [{}, {}]));
      await waitFor(async () => checks.length === 50, 10_000, '50 completions');
      const seen = await Promise.all(checks);
      for (const c of seen) expect(c.stored, `job ${c.id}`).toBe(c.expected);
      expect(await count('many')).toBe(100);
      // the stored jobs are gone from Redis: their hashes (which held the events) and the completed set
      for (const c of seen) expect(await stack.queue.getJob(c.id)).toBeUndefined();
      expect(await stack.queue.getCompletedCount()).toBe(0);
      expect(await redis.exists(...seen.map((c) => stack.queue.toKey(c.id)))).toBe(0);
    } finally {
      stack.worker!.worker.off('completed', onCompleted);
    }
  });

  it('fails a payload that can never be valid at once, without retrying, and keeps it', async () => {
    await stack.queue.add('persist-logs', { client_id: 'x', events: 'nope' }, { attempts: 5, backoff: { type: 'fixed', delay: 50 } });
    const failed = await waitFor(async () => (await stack.queue.getFailed()).find((j) => clientOf(j.data) === 'x'));
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toMatch(/invalid persist-logs payload/);
  });

  it('keeps an event Postgres rejects in dead_letter_events; the events batched with it are stored and the job completes', async () => {
    await stack.worker!.worker.pause();
    const good1 = job('neighbours', [{ message: 'ok 1' }]);
    const poison = job('neighbours', [{ message: 'ok 2' }, { message: 'bad \u0000 text' }, { message: 'ok 3' }]);
    const good2 = job('neighbours', [{ message: 'ok 4' }]);
    for (const j of [good1, poison, good2]) await producer.enqueue(j);
    stack.worker!.worker.resume();
    await waitFor(async () => (await count('neighbours')) === 4, 10_000, 'good rows');
    const [letter] = await waitFor(async () => {
      const rows = await db.sql`select * from dead_letter_events where client_id = 'neighbours'`;
      return rows.length > 0 && rows;
    });
    expect(letter).toMatchObject({ error_code: '22P05', event_id: poison.groups[0]!.events[1]!.event_id });
    await waitFor(() => stack.drained());
    expect((await stack.queue.getFailed()).some((j) => clientOf(j.data) === 'neighbours')).toBe(false);
  });

  it('retries a transient database failure with backoff and stores the job once it passes', async () => {
    await db.sql`insert into fail_inserts values (true)`;
    await producer.enqueue(job('outage', [{ event_id: 'survivor' }]));
    await waitFor(
      async () => {
        const jobs = await stack.queue.getJobs(['delayed', 'waiting', 'active']);
        return jobs.some((j) => clientOf(j.data) === 'outage' && j.attemptsMade >= 2);
      },
      10_000,
      'two failed attempts',
    );
    expect(await count('outage')).toBe(0);
    await db.sql`delete from fail_inserts`;
    await waitFor(async () => (await count('outage')) === 1, 15_000, 'row after the outage');
    expect((await stack.queue.getFailed()).some((j) => clientOf(j.data) === 'outage')).toBe(false);
  });
});
