// The System page's admin API: queue backlog and throughput, failed jobs
// (retry), dead letters (inspect, replay), worker lag, Redis memory,
// workflow_logs partitions and the scheduled runs, against a running worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOBS } from '@central-logger/queue';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let app: AdminTestApp;
let cookie: string;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db);
  app = await startAdminApp(db, { QUEUE_PREFIX: stack.env.QUEUE_PREFIX! });
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
}, 60_000);
afterAll(async () => {
  await app?.close();
  await stack?.close();
  await db?.drop();
});

async function deadLetter(payload: Record<string, unknown>): Promise<number> {
  const [r] = await db.sql`insert into dead_letter_events (client_id, event_id, received_at, payload, error_code, error_message)
    values (${payload.client_id as string}, ${payload.event_id as string}, now(), ${JSON.stringify(payload)}, '22P05', 'unsupported Unicode escape sequence') returning id`;
  return Number(r!.id);
}

describe('GET /admin/api/system', () => {
  it('reports the queues with jobs per second, the lag from received to stored, Redis memory, partitions and scheduled runs', { timeout: 60_000 }, async () => {
    const t = await createTenant(db.sql);
    for (let i = 0; i < 3; i++) expect((await postLogs(stack.baseUrl, t.key, [event({ message: `m${i}` }), event()])).status).toBe(202);
    await waitFor(async () => ((await db.sql`select count(*)::int as n from workflow_logs`)[0]!.n as number) === 6, 20_000, 'events stored');

    const res = await call(app, 'GET', '/admin/api/system', { cookie });
    expect(res.status).toBe(200);
    expect(res.body.errors).toEqual([]);
    expect(res.body.queues.map((q: { name: string }) => q.name)).toEqual(['logs', 'logs-bulk']);
    const logs = res.body.queues[0];
    expect(logs).toMatchObject({ waiting: 0, failed: 0 });
    expect(logs.jobs_per_second).toBeGreaterThan(0);
    expect(res.body.worker_lag).toMatchObject({ window_minutes: 15, events: 6, sampled: false });
    expect(res.body.worker_lag.p50_ms).toBeGreaterThanOrEqual(0);
    expect(res.body.worker_lag.p99_ms).toBeGreaterThanOrEqual(res.body.worker_lag.p50_ms);
    expect(res.body.redis_memory.used_bytes).toBeGreaterThan(0);
    expect(typeof res.body.redis_memory.policy).toBe('string');
    const today = `workflow_logs_p${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    const names = res.body.partitions.map((p: { name: string }) => p.name);
    expect(names).toContain(today);
    expect(names.at(-1)).toBe('workflow_logs_default');
    expect(res.body.partitions.find((p: { name: string }) => p.name === today).bytes).toBeGreaterThan(0);
    const schedules = Object.fromEntries(res.body.schedules.map((s: { name: string }) => [s.name, s]));
    expect(Object.keys(schedules)).toEqual(['maintenance', 'usage-rollup', 'alerts-evaluate']);
    expect(schedules.maintenance.every_ms).toBe(stack.workerConfig.MAINTENANCE_INTERVAL_MS);
    expect(Date.parse(schedules.maintenance.next_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(res.body.failed_jobs).toEqual({ count: 0, newest: [] });
    expect(res.body.dead_letters).toEqual({ count: 0, newest: [] });
  });

  it('401 without a session, 400 for a query', async () => {
    expect((await call(app, 'GET', '/admin/api/system')).status).toBe(401);
    expect((await call(app, 'GET', '/admin/api/system?x=1', { cookie })).status).toBe(400);
  });
});

describe('failed jobs', () => {
  it('lists a failed job and puts it back with POST /admin/api/jobs/retry, audited', { timeout: 60_000 }, async () => {
    // a payload the worker can never store fails at once (unrecoverable)
    await stack.queue.add(JOBS.persistLogs, { not: 'a persist-logs job' }, { attempts: 1 });
    await waitFor(async () => (await stack.queue.getFailedCount()) === 1, 20_000, 'the job to fail');
    const before = await call(app, 'GET', '/admin/api/system', { cookie });
    expect(before.body.failed_jobs.count).toBe(1);
    expect(before.body.failed_jobs.newest[0].reason).toContain('invalid persist-logs payload');
    expect(before.body.queues[0].failed).toBe(1);

    const res = await call(app, 'POST', '/admin/api/jobs/retry', { cookie }, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ retried: 1 });
    const [audit] = await db.sql`select actor, action, details from admin_audit where action = 'jobs.retry'`;
    expect(audit).toMatchObject({ actor: 'ops', details: { jobs: 1 } });
    expect((await call(app, 'POST', '/admin/api/jobs/retry')).status).toBe(401);
    expect((await call(app, 'POST', '/admin/api/jobs/retry', { cookie }, { all: true })).status).toBe(400);
  });
});

describe('dead letters', () => {
  it('lists, inspects with the event, and replays one once its cause is fixed; audited; then it is gone', async () => {
    const t = await createTenant(db.sql, 'agent', 'dl');
    const payload = {
      client_id: t.clientId,
      event_id: 'dl-1',
      received_at: new Date().toISOString(),
      executed_at: new Date().toISOString(),
      environment: 'prod',
      status: 'FAILURE',
      workflow: 'etl',
      run_id: null,
      level: 'error',
      message: 'fixed now',
      duration_ms: null,
      metadata: { a: 1 },
    };
    const id = await deadLetter(payload);
    const list = await call(app, 'GET', `/admin/api/dead-letters?client=${t.clientId}`, { cookie });
    expect(list.body.data).toEqual([expect.objectContaining({ id, client_id: t.clientId, event_id: 'dl-1', error_code: '22P05' })]);
    const one = await call(app, 'GET', `/admin/api/dead-letters/${id}`, { cookie });
    expect(one.status).toBe(200);
    expect(one.body.event).toMatchObject({ message: 'fixed now', metadata: { a: 1 } });

    const replay = await call(app, 'POST', `/admin/api/dead-letters/${id}/replay`, { cookie }, {});
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ replayed: id, client_id: t.clientId, event_id: 'dl-1' });
    expect(await db.sql`select message from workflow_logs where client_id = ${t.clientId} and event_id = 'dl-1'`).toEqual([{ message: 'fixed now' }]);
    const [audit] = await db.sql`select target, details from admin_audit where action = 'dead_letter.replay'`;
    expect(audit).toEqual({ target: `dead_letter:${id}`, details: { client_id: t.clientId, event_id: 'dl-1' } });
    expect((await call(app, 'POST', `/admin/api/dead-letters/${id}/replay`, { cookie }, {})).status).toBe(404);
    expect((await call(app, 'GET', `/admin/api/dead-letters/${id}`, { cookie })).status).toBe(404);
  });

  it('409 while Postgres still refuses it; it stays, with no audit row', async () => {
    const t = await createTenant(db.sql, 'agent', 'dl2');
    const id = await deadLetter({
      client_id: t.clientId,
      event_id: 'dl-nul',
      received_at: new Date().toISOString(),
      executed_at: new Date().toISOString(),
      environment: 'prod',
      status: 'OK',
      workflow: null,
      run_id: null,
      level: null,
      message: 'a\u0000b',
      duration_ms: null,
      metadata: {},
    });
    const res = await call(app, 'POST', `/admin/api/dead-letters/${id}/replay`, { cookie }, {});
    expect(res.status).toBe(409);
    expect(res.body.message).toContain(`Postgres still refuses dead letter ${id}`);
    expect(await db.sql`select 1 from dead_letter_events where id = ${id}`).toHaveLength(1);
    expect(await db.sql`select 1 from admin_audit where target = ${`dead_letter:${id}`}`).toHaveLength(0);
  });

  it('401 without a session, 400 for bad ids or queries, 404 for unknown ids', async () => {
    expect((await call(app, 'GET', '/admin/api/dead-letters')).status).toBe(401);
    expect((await call(app, 'GET', '/admin/api/dead-letters/1')).status).toBe(401);
    expect((await call(app, 'POST', '/admin/api/dead-letters/1/replay', {}, {})).status).toBe(401);
    for (const id of ['abc', '0', '1e3', '-1', '99999999999999999999']) {
      expect((await call(app, 'GET', `/admin/api/dead-letters/${id}`, { cookie })).status, id).toBe(400);
      expect((await call(app, 'POST', `/admin/api/dead-letters/${id}/replay`, { cookie }, {})).status, id).toBe(400);
    }
    for (const q of ['limit=0', 'limit=1001', 'client=', 'other=1'])
      expect((await call(app, 'GET', `/admin/api/dead-letters?${q}`, { cookie })).status, q).toBe(400);
    expect((await call(app, 'GET', '/admin/api/dead-letters/424242', { cookie })).status).toBe(404);
    expect((await call(app, 'POST', '/admin/api/dead-letters/424242/replay', { cookie }, {})).status).toBe(404);
  });
});
