// Alert triage through the admin API: filters by severity, the open count,
// acknowledging with a note (audited), and each alert's webhook delivery as
// the delivery queue in Redis has it.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSIGHTS, markWebhookQueued, upsertAlert, type Finding } from '@central-logger/alerts';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { ADMIN_USER, call, createTestAdminUser, signIn, startAdminApp, type AdminTestApp } from './support/admin.js';
import { REDIS_URL, waitFor } from './support/stack.js';

let db: TestDatabase;
let app: AdminTestApp;
let cookie: string;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startAdminApp(db);
  await createTestAdminUser(db.sql);
  cookie = await signIn(app);
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis?.disconnect();
  await app?.close();
  await db?.drop();
});

async function raise(severity: Finding['severity'], rule: Finding['rule'] = 'quota') {
  const { alert } = await upsertAlert(db.sql, {
    rule,
    subject: `s${n++}`,
    windowStart: new Date(Date.UTC(2026, 0, 1)),
    severity,
    summary: `${severity} ${rule}`,
    evidence: { n },
  });
  return alert;
}

describe('alerts: filters, open count, notes', () => {
  it('filters by severity and rule together, and counts open alerts by severity', async () => {
    const crit = await raise('critical', 'dead_letters');
    await raise('warning', 'quota');
    await raise('warning', 'dead_letters');
    const info = await raise('info', 'new_address');
    const res = await call(app, 'GET', '/admin/api/alerts?severity=critical&rule=dead_letters', { cookie });
    expect(res.status).toBe(200);
    expect(res.body.data.map((a: { id: string }) => a.id)).toEqual([crit.id]);
    expect((await call(app, 'GET', '/admin/api/alerts?severity=warning', { cookie })).body.data).toHaveLength(2);

    expect((await call(app, 'GET', '/admin/api/alerts/summary', { cookie })).body).toEqual({ open: 4, open_by_severity: { critical: 1, warning: 2, info: 1 } });
    expect((await call(app, 'POST', `/admin/api/alerts/${info.id}/ack`, { cookie }, {})).status).toBe(200);
    expect((await call(app, 'GET', '/admin/api/alerts/summary', { cookie })).body).toEqual({ open: 3, open_by_severity: { critical: 1, warning: 2, info: 0 } });
  });

  it('acknowledges with a note, shown with the alert and in the audit row; a second note changes nothing', async () => {
    const a = await raise('warning');
    const res = await call(app, 'POST', `/admin/api/alerts/${a.id}/ack`, { cookie }, { note: '  our own load test  ' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'acknowledged', acknowledged_by: ADMIN_USER, acknowledged_note: 'our own load test' });
    const [audit] = await db.sql`select details from admin_audit where target = ${`alert:${a.id}`}`;
    expect(audit!.details).toMatchObject({ note: 'our own load test' });
    const again = await call(app, 'POST', `/admin/api/alerts/${a.id}/ack`, { cookie }, { note: 'something else' });
    expect(again.body.acknowledged_note).toBe('our own load test');
    const listed = await call(app, 'GET', '/admin/api/alerts?status=acknowledged', { cookie });
    expect(listed.body.data.find((x: { id: string }) => x.id === a.id).acknowledged_note).toBe('our own load test');
  });

  it('401 without a session, 400 for bad filters or notes, 404 for an unknown alert', async () => {
    const a = await raise('info');
    expect((await call(app, 'GET', '/admin/api/alerts/summary')).status).toBe(401);
    expect((await call(app, 'POST', `/admin/api/alerts/${a.id}/ack`, {}, { note: 'x' })).status).toBe(401);
    for (const q of ['severity=urgent', 'rule=nope', 'severity=info&severity=warning']) {
      const res = await call(app, 'GET', `/admin/api/alerts?${q}`, { cookie });
      expect(res.status, q).toBe(400);
      expect(res.body.error).toBe('validation_failed');
    }
    expect((await call(app, 'GET', '/admin/api/alerts/summary?x=1', { cookie })).status).toBe(400);
    for (const body of [{ note: 'x'.repeat(1001) }, { note: 5 }, { note: 'a\u0000b' }, { note: 'ok', extra: 1 }, ['note']]) {
      const res = await call(app, 'POST', `/admin/api/alerts/${a.id}/ack`, { cookie }, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await db.sql`select acknowledged_at from alerts where id = ${a.id}`)[0]!.acknowledged_at).toBeNull();
    const missing = await call(app, 'POST', '/admin/api/alerts/alr_00000000000000000000000000000000/ack', { cookie }, { note: 'x' });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
  });
});

describe('alerts: webhook delivery state', () => {
  it('not queued, queued, delivered, retrying and failed for good, as the delivery queue has them', async () => {
    const [notQueued, queued, delivered, retrying, failed, trimmed] = await Promise.all(
      ['info', 'info', 'info', 'info', 'info', 'info'].map(() => raise('info', 'new_address')),
    );
    for (const a of [queued, delivered, retrying, failed, trimmed]) await markWebhookQueued(db.sql, a!.id);
    const queue = new Queue(INSIGHTS.webhookQueue, { connection: redis, prefix: app.config.QUEUE_PREFIX });
    const add = (id: string, attempts: number) =>
      queue.add(INSIGHTS.webhookJob, { alert_id: id }, { jobId: id, attempts, backoff: { type: 'fixed', delay: 3_600_000 } });
    await add(delivered!.id, 1);
    await add(retrying!.id, 5);
    await add(failed!.id, 1);
    // a worker that delivers one, and fails the others
    const worker = new Worker(
      INSIGHTS.webhookQueue,
      async (job) => {
        if (job.id === delivered!.id) return { status: 204 };
        throw new Error('webhook answered 502');
      },
      { connection: redis.duplicate(), prefix: app.config.QUEUE_PREFIX },
    );
    await waitFor(
      async () => (await queue.getCompletedCount()) === 1 && (await queue.getFailedCount()) === 1 && (await queue.getDelayedCount()) === 1,
      10_000,
      'deliveries',
    );
    await worker.close();
    await add(queued!.id, 1);

    const res = await call(app, 'GET', '/admin/api/alerts?rule=new_address&limit=200', { cookie });
    const state = (id: string) => res.body.data.find((a: { id: string }) => a.id === id).webhook;
    expect(state(notQueued!.id)).toMatchObject({ state: 'not_queued', queued_at: null });
    expect(state(queued!.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(state(delivered!.id)).toMatchObject({ state: 'delivered', attempts: 1, last_error: null });
    expect(state(delivered!.id).finished_at).not.toBeNull();
    expect(state(retrying!.id)).toMatchObject({ state: 'retrying', attempts: 1, last_error: 'webhook answered 502' });
    expect(state(failed!.id)).toMatchObject({ state: 'failed', attempts: 1, last_error: 'webhook answered 502' });
    expect(state(trimmed!.id)).toMatchObject({ state: 'expired', attempts: null });
    await queue.close();
  });
});
