// Jobs that used up their attempts (Postgres away longer than the retry schedule):
// `central-logger jobs failed|retry`, through bin/central-logger, and alert rule 9 (failed_jobs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centralLogger } from './support/child-processes.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let tenant: Tenant;
beforeAll(async () => {
  db = await createTestDatabase();
  // one attempt per job: a failure is final at once
  stack = await startStack(db, { JOB_ATTEMPTS: '1', ALERT_EVAL_INTERVAL_MS: '3600000', USAGE_ROLLUP_INTERVAL_MS: '3600000' });
  tenant = await createTenant(db.sql, 'agent');
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const cli = (...args: string[]) => centralLogger(args, { DATABASE_URL: db.url, REDIS_URL, QUEUE_PREFIX: stack.env.QUEUE_PREFIX!, LOG_LEVEL: 'silent' });
const failedJobAlerts = () => db.sql`select severity, subject, evidence from alerts where rule = 'failed_jobs'`;
const stored = async () => (await db.sql`select count(*)::int as n from workflow_logs where client_id = ${tenant.clientId}`)[0]!.n as number;

describe('failed jobs', () => {
  it('with none failed: the list says so, retry has nothing to do, and no alert is raised', async () => {
    expect((await cli('jobs', 'failed')).stdout).toContain('No failed jobs.');
    expect((await cli('jobs', 'retry')).stdout).toContain('No failed jobs.');
    await stack.worker!.insights.evaluate();
    expect(await failedJobAlerts()).toHaveLength(0);
  });

  it('a job whose every attempt failed is listed, raises a critical alert, and `jobs retry` stores its events once', async () => {
    await db.sql`alter table workflow_logs rename to workflow_logs_away`;
    let accepted: Awaited<ReturnType<typeof postLogs>>;
    try {
      accepted = await postLogs(stack.baseUrl, tenant.key, [event(), event(), event()]);
      expect(accepted.status).toBe(202);
      await waitFor(async () => (await stack.queue.getFailedCount()) === 1, 10_000, 'the job to fail');
    } finally {
      await db.sql`alter table workflow_logs_away rename to workflow_logs`;
    }
    expect(await stored()).toBe(0);

    const list = await cli('jobs', 'failed');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`\\s1\\s+3\\s+${tenant.clientId}\\s+.*does not exist`));
    expect(list.stdout).toContain('1 failed job(s). Once the cause is fixed: central-logger jobs retry');

    await stack.worker!.insights.evaluate();
    const alerts = await failedJobAlerts();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'critical', subject: 'logs', evidence: { jobs: 1, events_in_newest: 3, clients: [tenant.clientId] } });

    const retry = await cli('jobs', 'retry');
    expect(retry.stdout).toContain('✓ 1 job(s) back in the queue');
    await waitFor(async () => (await stored()) === 3, 10_000, 'the events stored');
    const ids = (await db.sql`select event_id from workflow_logs where client_id = ${tenant.clientId} order by event_id`).map((r) => r.event_id);
    expect(ids).toEqual([...accepted.body.ids].sort());
    expect(await stack.queue.getFailedCount()).toBe(0);
    expect((await cli('jobs', 'failed')).stdout).toContain('No failed jobs.');
  });
});
