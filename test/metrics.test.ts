import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey } from '@central-logger/keys';
import { loadConfig, workerSchema } from '@central-logger/config';
import { portOf } from '@central-logger/http';
import { startWorker } from '../apps/worker/src/service.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, deleteRedisKeys, event, postLogs, startStack, testEnv, waitFor, type Stack } from './support/stack.js';

let db: TestDatabase;
let stack: Stack;

beforeAll(async () => {
  db = await createTestDatabase();
  stack = await startStack(db, { MAX_EVENTS_PER_REQUEST: '10' });
});
afterAll(async () => {
  await stack?.close();
  await db?.drop();
});

const scrape = async (url: string) => {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  return res.text();
};

/** The value of one sample line, e.g. `metric{labels} 3`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('GET /metrics', () => {
  it('is not on the public port: its own listener, on 127.0.0.1 by default', async () => {
    const res = await fetch(`${stack.baseUrl}/metrics`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('not_found');
    expect(stack.ingest.metricsServer.address()).toMatchObject({ address: '127.0.0.1' });
    expect(stack.ingestConfig.METRICS_HOST).toBe('127.0.0.1');
  });

  it('ingest-api counts requests by route and status, events accepted and rejected by reason, auth failures, and the backlog', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, t.key, [event(), event(), event()])).status).toBe(202);
    expect((await postLogs(stack.baseUrl, t.key, { environment: 'x' })).status).toBe(400);
    expect(
      (
        await postLogs(
          stack.baseUrl,
          t.key,
          Array.from({ length: 11 }, () => event()),
        )
      ).status,
    ).toBe(413);
    expect((await postLogs(stack.baseUrl, generateKey().key, event())).status).toBe(401);
    const text = await scrape(`http://127.0.0.1:${portOf(stack.ingest.metricsServer)}/metrics`);
    expect(sample(text, 'http_requests_total', { route: '/api/v1/logs', status: '202' })).toBe(1);
    expect(sample(text, 'http_requests_total', { route: '/api/v1/logs', status: '400' })).toBe(1);
    expect(sample(text, 'ingest_events_accepted_total')).toBe(3);
    expect(sample(text, 'ingest_events_rejected_total', { reason: 'validation_failed' })).toBe(1);
    expect(sample(text, 'ingest_events_rejected_total', { reason: 'payload_too_large' })).toBe(1);
    expect(sample(text, 'auth_failures_total', { code: 'invalid_api_key' })).toBe(1);
    expect(sample(text, 'queue_backlog_jobs')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'ingest_group_commit_job_events_count')).toBe(1);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('the worker serves /metrics (batch size, insert latency, end-to-end lag) and /health on its own port', async () => {
    const t = await createTenant(db.sql, 'agent');
    expect((await postLogs(stack.baseUrl, t.key, [event(), event()])).status).toBe(202);
    await waitFor(async () => (await db.sql`select 1 from workflow_logs where client_id = ${t.clientId}`).length === 2);
    const base = `http://127.0.0.1:${portOf(stack.worker!.metricsServer)}`;
    const text = await waitFor(
      async () => {
        const m = await scrape(`${base}/metrics`);
        return (sample(m, 'ingest_to_stored_lag_seconds_count') ?? 0) >= 1 && m;
      },
      5_000,
      'lag sample',
    );
    expect(sample(text, 'worker_batch_rows_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'worker_batch_rows_sum')).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'worker_insert_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'queue_backlog_jobs', { state: 'waiting' })).toBeGreaterThanOrEqual(0);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe("the worker's metrics listener is served as ingest-api's and admin's", () => {
  const TOKEN = 'a-worker-metrics-token';

  it('wants METRICS_TOKEN as a bearer token when set, answers /health without it, and sends nosniff', async () => {
    const config = loadConfig(workerSchema, testEnv(db, { METRICS_TOKEN: TOKEN }));
    const worker = await startWorker(config);
    try {
      const base = `http://127.0.0.1:${portOf(worker.metricsServer)}`;
      const denied = await fetch(`${base}/metrics`);
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await denied.json()) as { error: string }).error).toBe('invalid_api_key');
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await ok.text()).toMatch(/^worker_batch_rows_count/m);
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      expect(health.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await health.json()).toEqual({ status: 'ok' });
    } finally {
      await worker.close();
      await deleteRedisKeys(config.QUEUE_PREFIX);
    }
  });

  it('refuses to start on a WORKER_METRICS_HOST other machines reach, without METRICS_TOKEN', async () => {
    const config = loadConfig(workerSchema, testEnv(db, { WORKER_METRICS_HOST: '0.0.0.0' }));
    await expect(startWorker(config)).rejects.toThrow(/set METRICS_TOKEN/);
  });
});
