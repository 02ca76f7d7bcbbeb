// ALERT_WEBHOOK_URL: a new alert is POSTed as JSON by its own BullMQ job,
// retried with exponential backoff past a 500 and a webhook that hangs (timed
// out), delivered once; evaluating again sends nothing more. An alert whose
// job was never queued (a crash after its commit) goes out at the next run.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSIGHTS, upsertAlert } from '@central-logger/alerts';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, event, postLogs, REDIS_URL, startStack, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;
let hook: Server;
const received: Array<{ at: number; body: any; answered: number | 'hung' }> = [];
const plan: Array<number | 'hang'> = [500, 'hang', 200];

async function readAll(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += c;
  return s;
}

beforeAll(async () => {
  hook = createServer(async (req, res) => {
    const body = JSON.parse(await readAll(req));
    const next = plan.shift() ?? 200;
    received.push({ at: Date.now(), body, answered: next === 'hang' ? 'hung' : next });
    if (next === 'hang') return; // never answers: the delivery times out
    res.writeHead(next).end();
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  db = await createTestDatabase();
  stack = await startStack(db, {
    ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    ALERT_WEBHOOK_BACKOFF_MS: '100',
    ALERT_WEBHOOK_ATTEMPTS: '5',
    ALERT_WEBHOOK_TIMEOUT_MS: '300',
    USAGE_ROLLUP_INTERVAL_MS: '3600000',
    ALERT_EVAL_INTERVAL_MS: '3600000',
  });
});
afterAll(async () => {
  await stack?.close();
  hook?.closeAllConnections();
  await new Promise((r) => hook?.close(r));
  await db?.drop();
});

describe('alert webhook', () => {
  it('posts a new alert as JSON, retrying with backoff until the webhook takes it, and only once', async () => {
    const t = await createTenant(db.sql, 'agent', 'hook');
    await db.sql`update api_keys set revoked_at = now() where id = ${t.record.id}`;
    expect((await postLogs(stack.baseUrl, t.key, [event()])).status).toBe(401);
    await stack.ingest.verifier.failures.flush();

    const { raised } = await stack.worker!.insights.evaluate();
    expect(raised).toBe(1);
    const [alert] = await db.sql`select id from alerts where rule = 'dead_key_in_use'`;
    await waitFor(async () => received.some((r) => r.answered === 200), 15_000, 'a delivery the webhook accepts');
    expect(received.map((r) => r.answered)).toEqual([500, 'hung', 200]);
    for (const r of received) {
      expect(r.body).toMatchObject({ type: 'alert.raised', alert: { id: alert!.id, rule: 'dead_key_in_use', subject: t.record.prefix, status: 'open' } });
    }
    // exponential: the second wait (200 ms + the 300 ms timeout) is longer than the first (100 ms)
    expect(received[2]!.at - received[1]!.at).toBeGreaterThan(received[1]!.at - received[0]!.at);

    // evaluated again: the alert exists, nothing new is sent
    expect((await stack.worker!.insights.evaluate()).raised).toBe(0);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(INSIGHTS.webhookQueue, { connection, prefix: stack.env.QUEUE_PREFIX });
    try {
      await waitFor(async () => (await queue.getJob(alert!.id))?.finishedOn !== undefined, 5_000, 'the delivery job to complete');
      const job = await queue.getJob(alert!.id);
      expect(job!.attemptsMade).toBe(3);
      expect(await queue.getJobCounts('waiting', 'delayed', 'active')).toEqual({ waiting: 0, delayed: 0, active: 0 });
    } finally {
      await queue.close();
      connection.disconnect();
    }
    expect(received).toHaveLength(3);
  });

  it('sends an alert that committed but never got its delivery job (the process died between the two) at the next evaluation, once', async () => {
    // what a crash right after the alert's commit leaves: the alert, and no job
    const { alert, created } = await upsertAlert(db.sql, {
      rule: 'dormant_key_active',
      subject: 'clk_crashed',
      windowStart: new Date(),
      severity: 'warning',
      summary: 'committed, then the process died',
      evidence: {},
    });
    expect(created).toBe(true);
    const ofIt = () => received.filter((r) => r.body.alert?.id === alert.id);
    await stack.worker!.insights.evaluate();
    await waitFor(async () => ofIt().length > 0, 10_000, 'the missed alert to be delivered');
    await stack.worker!.insights.evaluate();
    await new Promise((r) => setTimeout(r, 500));
    expect(ofIt()).toHaveLength(1);
    expect(ofIt()[0]!.body).toMatchObject({ type: 'alert.raised', alert: { id: alert.id, rule: 'dormant_key_active' } });
  });
});
