import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, workerSchema } from '@central-logger/config';
import { createLogger } from '@central-logger/http';
import { MAINTENANCE } from '@central-logger/queue';
import { ensurePartitions, insertLogs, setRetentionDays } from '@central-logger/db';
import { maintenance } from '../apps/worker/src/jobs/retention.js';
import { startWorker } from '../apps/worker/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack } from './support/stack.js';
import { logRow, seedLogs } from './support/reads.js';

const DAY = 86_400_000;
const log = createLogger('test', 'silent');

describe('retention job', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const partitionExists = async (name: string, sql = db.sql) => (await sql`select to_regclass(${name}) as r`)[0]!.r !== null;
  const partOf = (ms: number) => `workflow_logs_p${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '')}`;

  it("drops whole day partitions past the longest retention and deletes, in batches, rows past each client's own", async () => {
    const now = new Date();
    const long = await createTenant(db.sql, 'agent', 'long');
    const short = await createTenant(db.sql, 'agent', 'short');
    await setRetentionDays(db.sql, long.clientId, 10);
    await setRetentionDays(db.sql, short.clientId, 3);
    const ago = (days: number) => new Date(now.getTime() - days * DAY).toISOString();
    await seedLogs(db.sql, [
      logRow(long.clientId, { event_id: 'long-20d', executed_at: ago(20) }),
      // no partition that far back: this one waits in the default partition
      logRow(long.clientId, { event_id: 'long-40d', executed_at: ago(40) }),
      logRow(long.clientId, { event_id: 'long-5d', executed_at: ago(5) }),
      ...[1, 2, 3, 4, 5].map((i) => logRow(short.clientId, { event_id: `short-5d-${i}`, executed_at: ago(5) })),
      logRow(short.clientId, { event_id: 'short-1d', executed_at: ago(1) }),
    ]);
    expect(await partitionExists(partOf(now.getTime() - 20 * DAY))).toBe(true);

    const result = await maintenance(db.sql, log, { deleteBatch: 2, securityRecordsDays: 90, usageDays: 400, now: () => now })();

    expect(result.partitionsDropped).toContain(partOf(now.getTime() - 20 * DAY));
    expect(result.partitionsDropped).not.toContain(partOf(now.getTime() - 9 * DAY));
    expect(await partitionExists(partOf(now.getTime() - 20 * DAY))).toBe(false);
    expect(await partitionExists(partOf(now.getTime() - 9 * DAY))).toBe(true);
    expect(await partitionExists(partOf(now.getTime() + 3 * DAY))).toBe(true);
    expect(result.rowsDeleted).toBe(6); // long-40d and the five short-5d, two at a time
    const left = await db.sql`select event_id from workflow_logs order by event_id`;
    expect(left.map((r) => r.event_id)).toEqual(['long-5d', 'short-1d']);

    // a second run finds nothing more to do
    const again = await maintenance(db.sql, log, { deleteBatch: 2, securityRecordsDays: 90, usageDays: 400, now: () => now })();
    expect(again).toMatchObject({ partitionsCreated: 0, partitionsDropped: [], rowsDeleted: 0 });
  });

  it('keeps every partition within the default 30 days when clients keep the default', async () => {
    const fresh = await createTestDatabase();
    try {
      await createTenant(fresh.sql, 'agent');
      const result = await maintenance(fresh.sql, log, { deleteBatch: 100, securityRecordsDays: 90, usageDays: 400 })();
      const oldest = (await fresh.sql`select min(relname) as p from pg_class where relname ~ '^workflow_logs_p[0-9]{8}$'`)[0]!.p as string;
      expect(oldest >= partOf(Date.now() - 31 * DAY)).toBe(true);
      for (const p of result.partitionsDropped) expect(p < partOf(Date.now() - 30 * DAY)).toBe(true);
    } finally {
      await fresh.drop();
    }
  });

  it('never holds writers up behind a long read: partition DDL gives up after its lock timeout and is left for the next run', async () => {
    const fresh = await createTestDatabase();
    const reader = await fresh.sql.reserve();
    try {
      const t = await createTenant(fresh.sql, 'agent');
      const now = new Date();
      await ensurePartitions(fresh.sql, now);
      // an expired day partition (default retention 30 days) with a row in it
      const expired = partOf(now.getTime() - 60 * DAY);
      const day = expired.slice(-8).replace(/(\d{4})(\d{2})(\d{2})/, '$1-$2-$3');
      await fresh.sql`select ensure_workflow_logs_partitions(${day}::date, ${day}::date)`;
      await seedLogs(fresh.sql, [logRow(t.clientId, { executed_at: `${day}T12:00:00.000Z` })]);

      // a long read holds workflow_logs (an export streaming, say)
      await reader`begin`;
      await reader`select count(*) from workflow_logs`;
      const run = maintenance(fresh.sql, log, { deleteBatch: 100, securityRecordsDays: 90, usageDays: 400, now: () => now, lockTimeoutMs: 300 })();
      await new Promise((r) => setTimeout(r, 50)); // the drop is now waiting for its lock
      // a writer arriving meanwhile waits at most the lock timeout, not until the read ends
      const started = Date.now();
      const inserted = await Promise.race([insertLogs(fresh.sql, [logRow(t.clientId)]), new Promise<'stuck'>((r) => setTimeout(() => r('stuck'), 5_000))]);
      expect(inserted).toBe(1);
      expect(Date.now() - started).toBeLessThan(2_000);
      const first = await run;
      expect(first.partitionsDropped).toEqual([]);
      expect(first.busy).toContain(expired);
      expect(await partitionExists(expired, fresh.sql)).toBe(true);

      // once the read is over, the next run drops it
      await reader`commit`;
      const next = await maintenance(fresh.sql, log, { deleteBatch: 100, securityRecordsDays: 90, usageDays: 400, now: () => now, lockTimeoutMs: 300 })();
      expect(next.partitionsDropped).toContain(expired);
      expect(next.busy).toEqual([]);
      expect(await partitionExists(expired, fresh.sql)).toBe(false);
    } finally {
      await reader`rollback`.catch(() => {});
      reader.release();
      await fresh.drop();
    }
  });
});

describe('maintenance scheduling', () => {
  let db: TestDatabase;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { MAINTENANCE_INTERVAL_MS: '600000' });
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  it('one job scheduler however many workers start, and its job runs', async () => {
    const second = await startWorker(loadConfig(workerSchema, stack.env));
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(MAINTENANCE.queue, { connection, prefix: stack.env.QUEUE_PREFIX });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toHaveLength(1);
      expect(schedulers[0]).toMatchObject({ key: MAINTENANCE.scheduler, every: 600000 });
      await waitFor(async () => (await queue.getJobCounts('completed')).completed! >= 1, 15_000, 'a completed maintenance job');
      expect((await queue.getJobCounts('completed')).completed).toBe(1);
    } finally {
      await second.close();
      await queue.close();
      connection.disconnect();
    }
  });
});

describe('ingest refuses events outside the accepted window', () => {
  let db: TestDatabase;
  let stack: Stack;
  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, {}, { worker: false });
  });
  afterAll(async () => {
    await stack?.close();
    await db?.drop();
  });

  it("400 for an event older than the client's retention, 202 within it", async () => {
    const t = await createTenant(db.sql, 'agent');
    await setRetentionDays(db.sql, t.clientId, 7);
    const old = await postLogs(stack.baseUrl, t.key, [event(), event({ executed_at: new Date(Date.now() - 8 * DAY).toISOString() })]);
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('validation_failed');
    expect(old.body.details).toEqual([{ index: 1, field: 'executed_at', message: "is older than this client's retention of 7 days" }]);
    const recent = await postLogs(stack.baseUrl, t.key, event({ executed_at: new Date(Date.now() - 6 * DAY).toISOString() }));
    expect(recent.status).toBe(202);
  });

  it('uses the default retention of 30 days', async () => {
    const t = await createTenant(db.sql, 'agent');
    const old = await postLogs(stack.baseUrl, t.key, event({ executed_at: new Date(Date.now() - 31 * DAY).toISOString() }));
    expect(old.status).toBe(400);
    expect(old.body.details[0].message).toContain('30 days');
  });

  it('400 for an event more than a day in the future', async () => {
    const t = await createTenant(db.sql, 'agent');
    const res = await postLogs(stack.baseUrl, t.key, event({ executed_at: new Date(Date.now() + 2 * DAY).toISOString() }));
    expect(res.status).toBe(400);
    expect(res.body.details[0]).toMatchObject({ field: 'executed_at' });
  });
});

describe('central-logger client retention', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const cli = (...args: string[]) =>
    promisify(execFile)('node_modules/.bin/tsx', ['apps/admin/src/cli/main.ts', ...args], {
      env: { ...process.env, DATABASE_URL: db.url, REDIS_URL, LOG_LEVEL: 'silent' },
    }).then(
      ({ stdout }) => ({ code: 0, out: stdout }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
    );

  it("sets a client's retention_days, and refuses bad values and unknown clients", async () => {
    const t = await createTenant(db.sql, 'agent');
    const ok = await cli('client', 'retention', t.clientId, '7');
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toContain('7 days');
    expect((await db.sql`select retention_days from clients where id = ${t.clientId}`)[0]!.retention_days).toBe(7);
    expect(await cli('client', 'retention', t.clientId, '0')).toMatchObject({ code: 1, out: expect.stringContaining('1 to 3650') });
    expect(await cli('client', 'retention', 'nobody', '7')).toMatchObject({ code: 1, out: expect.stringContaining('No client') });
  });
});
