/**
 * Item 11 (fair persistence): a tenant flooding within its limits (4 agent
 * keys, 40 connections, 100-event batches) next to a victim tenant sending
 * single events at a modest rate. Measures the victim's received → stored
 * latency (stored_at − received_at in Postgres) without and with the flood,
 * the flooder's own, and the flooder's 202/429/503 counts.
 * Real ingest-api and worker processes, a database and queue prefix of the
 * run's own. Settings (environment): FLOOD_PHASE_S (25), FLOOD_VICTIM_RPS
 * (20), FLOOD_CONNECTIONS (40), FLOOD_KEYS (4), FLOOD_ENV (extra env for both
 * processes, as JSON, e.g. '{"RATE_TENANT_EVENTS_PER_SECOND":"1000000"}').
 * The one-FIFO queue of before fair persistence, on the same build: every
 * tenant in the fast lane, FLOOD_ENV='{"FAIR_SHARE_EVENTS_PER_SECOND":"1e9","FAIR_SHARE_BURST":"1000000000"}'.
 * Stored counts can exceed the 202s by the flood's requests in flight when
 * autocannon stops (stored, but their answers not counted).
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import type { Queue } from 'bullmq';
import { deleteKeysUnder, openLogsQueue } from '@central-logger/queue';
import { freePort, productionSecrets, startChild, waitHealthy, type Child } from '../ingest/processes.js';
import { latencyStats, type AbuseResult, type AbuseScenario, type LatencyStats } from './scenario.js';

const PHASE_S = Number(process.env.FLOOD_PHASE_S ?? 25);
const VICTIM_RPS = Number(process.env.FLOOD_VICTIM_RPS ?? 20);
const CONNECTIONS = Number(process.env.FLOOD_CONNECTIONS ?? 40);
const KEYS = Number(process.env.FLOOD_KEYS ?? 4);
const DATABASE_URL = process.env.BENCH_FLOOD_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_tenant_flood';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const event = (i: number) => ({
  environment: 'bench',
  executed_at: new Date().toISOString(),
  status: 'SUCCESS',
  workflow: 'wf',
  level: 'info',
  message: `flood event ${i}`,
  duration_ms: 3,
  metadata: { n: i },
});
const batch = JSON.stringify(Array.from({ length: 100 }, (_, i) => event(i)));

async function tenantKeys(sql: Sql, id: string, n: number): Promise<string[]> {
  await createClient(sql, id, id);
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push((await createKey(sql, { name: `${id} key ${i}`, role: 'agent', clientId: id, bcryptCost: 10 })).key);
  return keys;
}

/** Single events at `rps` for `seconds`; the 202s' event ids. */
async function victim(url: string, key: string, rps: number, seconds: number, tag: string): Promise<{ ids: string[]; refused: number; answerMs: number[] }> {
  const ids: string[] = [];
  const answerMs: number[] = [];
  let refused = 0;
  const sends: Promise<void>[] = [];
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const sent = performance.now();
    sends.push(
      fetch(`${url}/api/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key },
        body: JSON.stringify({ ...event(i), event_id: `${tag}-${i}` }),
      }).then(
        async (res) => {
          answerMs.push(performance.now() - sent);
          if (res.status === 202) ids.push(`${tag}-${i}`);
          else refused++;
          await res.arrayBuffer();
        },
        () => void refused++,
      ),
    );
    await new Promise((r) => setTimeout(r, 1000 / rps));
  }
  await Promise.all(sends);
  return { ids, refused, answerMs };
}

/** The flood: `CONNECTIONS` connections spread over the flooder's keys, 100-event batches, for `seconds`. */
async function flood(url: string, keys: string[], seconds: number): Promise<Record<string, number>> {
  const runs = keys.map((key) =>
    autocannon({
      url: `${url}/api/v1/logs`,
      method: 'POST',
      connections: Math.ceil(CONNECTIONS / keys.length),
      duration: seconds,
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: batch,
    }),
  );
  const statuses: Record<string, number> = {};
  for (const r of await Promise.all(runs)) for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) statuses[k] = (statuses[k] ?? 0) + (v.count ?? 0);
  return statuses;
}

const answer = (ms: number[]) => {
  const s = latencyStats(ms);
  return `p50 ${Math.round(s.p50Ms)} ms / p99 ${Math.round(s.p99Ms)} ms`;
};

const count = async (sql: Sql, clientId: string) => Number((await sql`select count(*)::int as n from workflow_logs where client_id = ${clientId}`)[0]!.n);

async function waitStored(sql: Sql, clientId: string, expected: number, timeoutMs = 300_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = await count(sql, clientId);
  while (n < expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    n = await count(sql, clientId);
  }
  return n;
}

async function victimLatency(sql: Sql, clientId: string, ids: string[]): Promise<LatencyStats> {
  const rows =
    await sql`select extract(epoch from stored_at - received_at) * 1000 as ms from workflow_logs where client_id = ${clientId} and event_id = any(${ids})`;
  return latencyStats(rows.map((r) => Number(r.ms)));
}

/** p50/p99 of the flooder's received → stored, from Postgres (all its rows of the phase). */
async function flooderLatency(sql: Sql, clientId: string): Promise<string> {
  const [r] = await sql`
    select percentile_cont(0.5) within group (order by extract(epoch from stored_at - received_at)) * 1000 as p50,
           percentile_cont(0.99) within group (order by extract(epoch from stored_at - received_at)) * 1000 as p99
    from workflow_logs where client_id = ${clientId}`;
  return `p50 ${Math.round(Number(r!.p50))} ms / p99 ${Math.round(Number(r!.p99))} ms`;
}

/**
 * Where the fast lane's jobs (the victim's events ride them, with the flooder's
 * fair share) spent their time, from the lane's BullMQ events stream (a stored
 * job is deleted at once, so the jobs themselves are gone): added to Redis →
 * taken by the worker (queue) → completed after its INSERT committed (worker).
 */
async function fastLaneJobTimes(redis: Redis, queue: Queue): Promise<string> {
  const at = new Map<string, Partial<Record<'added' | 'active' | 'completed', number>>>();
  for (const [id, fields] of await redis.xrange(queue.keys.events!, '-', '+')) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    const event = f.event;
    if (!f.jobId || (event !== 'added' && event !== 'active' && event !== 'completed')) continue;
    const times = at.get(f.jobId) ?? {};
    times[event] ??= Number(id.split('-')[0]);
    at.set(f.jobId, times);
  }
  const jobs = [...at.values()].filter((t) => t.added !== undefined && t.active !== undefined && t.completed !== undefined) as Array<
    Record<'added' | 'active' | 'completed', number>
  >;
  if (jobs.length === 0) return 'no fast-lane job in its events stream';
  const part = (f: (j: (typeof jobs)[number]) => number) => {
    const s = latencyStats(jobs.map(f));
    return `p50 ${Math.round(s.p50Ms)} / p99 ${Math.round(s.p99Ms)} ms`;
  };
  return `fast-lane jobs (${jobs.length}, the newest in its events stream): queue ${part((j) => j.active - j.added)}, worker ${part((j) => j.completed - j.active)}`;
}

async function run(): Promise<AbuseResult> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 4, applicationName: 'bench' });
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  const flooderKeys = await tenantKeys(sql, 'flooder', KEYS);
  const [victimKey] = await tenantKeys(sql, 'victim', 1);
  const [port, metricsPort] = [await freePort(), await freePort()];
  const extra = process.env.FLOOD_ENV ? (JSON.parse(process.env.FLOOD_ENV) as Record<string, string>) : {};
  const env = {
    ...productionSecrets(),
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `{flood${randomBytes(3).toString('hex')}}`,
    INGEST_PORT: String(port),
    WORKER_METRICS_PORT: String(metricsPort),
    // the per-key and per-tenant rates stay at their defaults: the flooder is within its limits; only the daily quota is out of the way
    RATE_TENANT_EVENTS_PER_DAY: '1000000000000',
    ...extra,
  };
  const children: Child[] = [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  try {
    const url = `http://127.0.0.1:${port}`;
    await Promise.all([waitHealthy(`${url}/health`), waitHealthy(`http://127.0.0.1:${metricsPort}/health`)]);
    // verify every key once (bcrypt) before measuring
    for (const k of [...flooderKeys, victimKey!]) await fetch(`${url}/api/v1/limits`, { headers: { 'x-api-key': k } });

    console.error(`without: victim alone, ${VICTIM_RPS}/s × ${PHASE_S} s …`);
    const alone = await victim(url, victimKey!, VICTIM_RPS, PHASE_S, 'alone');
    await waitStored(sql, 'victim', alone.ids.length);
    const without = await victimLatency(sql, 'victim', alone.ids);

    console.error(`with: ${KEYS} keys × ${CONNECTIONS} connections of 100-event batches, victim ${VICTIM_RPS}/s, ${PHASE_S} s …`);
    const started = performance.now();
    const [statuses, during] = await Promise.all([flood(url, flooderKeys, PHASE_S), victim(url, victimKey!, VICTIM_RPS, PHASE_S, 'flood')]);
    const accepted = (statuses['202'] ?? 0) * 100;
    const stored = await waitStored(sql, 'flooder', accepted);
    const drainS = (performance.now() - started) / 1000 - PHASE_S;
    await waitStored(sql, 'victim', alone.ids.length + during.ids.length);
    const withFlood = await victimLatency(sql, 'victim', during.ids);
    const victimStored = await count(sql, 'victim');
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = openLogsQueue(redis, env.QUEUE_PREFIX);
    const jobTimes = await fastLaneJobTimes(redis, queue).finally(() => queue.close().then(() => redis.disconnect()));
    return {
      name: 'tenant flood (item 11)',
      victimMeasures: 'single event, received → stored',
      without,
      with: withFlood,
      notes: [
        `flooder: ${KEYS} agent keys, ${CONNECTIONS} connections, 100-event batches, ${PHASE_S} s: ${JSON.stringify(statuses)}; ${Math.round(accepted / PHASE_S)} events/s accepted, ${stored} of ${accepted} stored (drained ${drainS.toFixed(1)} s after the flood)`,
        `flooder's own received → stored: ${await flooderLatency(sql, 'flooder')}`,
        `victim: ${VICTIM_RPS} single events/s; refused without ${alone.refused}, with ${during.refused}; stored ${victimStored} of ${alone.ids.length + during.ids.length} accepted`,
        `victim's HTTP answer, as the bench process sees it (it also runs autocannon): without ${answer(alone.answerMs)}, with ${answer(during.answerMs)}`,
        jobTimes,
        `extra env: ${JSON.stringify(extra)}`,
      ],
    };
  } finally {
    for (const c of children) await c.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
    await sql.end();
  }
}

export const tenantFlood: AbuseScenario = { name: 'tenant flood (item 11)', run };
