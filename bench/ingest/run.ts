// `npm run bench:ingest`: the ingest benchmark. Runs ingest-api and the worker
// as child processes against a database of its own, drives them with
// autocannon, counts what Postgres stored, and prints one table: batched and
// single-event ingest, the COPY ceiling, and a naive baseline.
// Settings (environment): BENCH_DURATION_S (30), BENCH_CONNECTIONS (50),
// BENCH_NAIVE_DURATION_S (10), BENCH_DATABASE_URL, REDIS_URL; BENCH_ONLY=batched|single
// runs one scenario (batched: and the COPY ceiling) (for profiling, with BENCH_CPU_PROF=<dir>); BENCH_RUN=dist runs
// ingest-api and the worker from the compiled build (npm run build first), as
// production does, instead of their sources under tsx. BENCH_TENANTS=<n> (1) sends the
// single-event scenario from n tenants, a key each, in turn (each within its fair share: the fast lane).
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { copyCeiling } from './copy-ceiling.js';
import {
  commandMeter,
  freePort,
  MemorySampler,
  postgresOf,
  productionSecrets,
  RUN_MODE,
  selfMeter,
  startChild,
  waitHealthy,
  type Child,
  type CpuMeter,
  UNLIMITED_RATES,
} from './processes.js';
import { printReport, type Scenario } from './report.js';
import { benchEvent } from './bench-event.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 30);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const NAIVE_DURATION_S = Number(process.env.BENCH_NAIVE_DURATION_S ?? Math.min(10, DURATION_S));
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_ingest';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ONLY = process.env.BENCH_ONLY;
const TENANTS = Number(process.env.BENCH_TENANTS ?? 1);
// what every scenario also costs the machine: the shared servers and the load generator
// (postgres: its background processes and the bench database's backends, not other databases' backends)
const SHARED_METERS = [
  commandMeter('postgres', 'postgres', postgresOf(new URL(DATABASE_URL).pathname.slice(1))),
  commandMeter('redis', 'redis-server'),
  selfMeter('autocannon'),
];

const body = (events: number) => JSON.stringify(events === 1 ? benchEvent(0) : Array.from({ length: events }, (_, i) => benchEvent(i)));

async function tenant(sql: Sql, id: string): Promise<string> {
  await createClient(sql, id, id);
  return (await createKey(sql, { name: `${id} key`, role: 'agent', clientId: id, bcryptCost: 10 })).key;
}

const countRows = async (sql: Sql, clientIds: string[]) =>
  Number((await sql`select count(*)::int as n from workflow_logs where client_id in ${sql(clientIds)}`)[0]!.n);

/** Sum and count of a histogram at a /metrics URL (zeros when it has none). */
async function histogram(url: string | undefined, name: string): Promise<{ sum: number; count: number }> {
  const text = url ? await (await fetch(url)).text() : '';
  const value = (suffix: string) => Number(/ (\S+)$/.exec(text.split('\n').find((l) => l.startsWith(`${name}_${suffix}`)) ?? '')?.[1] ?? 0);
  return { sum: value('sum'), count: value('count') };
}

/** Drives `url` for `seconds`, then waits until Postgres holds every accepted event. */
async function scenario(
  name: string,
  sql: Sql,
  url: string,
  /** One key per tenant, its client id: the requests go to them in turn. */
  tenants: Array<{ key: string; clientId: string }>,
  eventsPerRequest: number,
  seconds: number,
  services: CpuMeter[],
  metrics?: { worker: string; ingest: string },
): Promise<Scenario> {
  const workerMetrics = metrics?.worker;
  const clientIds = tenants.map((t) => t.clientId);
  const headersOf = (key: string) => ({ 'content-type': 'application/json', 'x-api-key': key });
  // each key verified (bcrypt) before the measured load; their events are not counted
  const warm = tenants.length > 1 ? tenants.length : 0;
  if (warm) for (const t of tenants) await fetch(`${url}/api/v1/logs`, { method: 'POST', headers: headersOf(t.key), body: body(1) });
  const meters = [...services, ...SHARED_METERS];
  const cpuBefore = meters.map((c) => c.cpuSeconds());
  const jobsBefore = await histogram(metrics?.ingest, 'ingest_group_commit_job_events');
  const batchesBefore = await histogram(workerMetrics, 'worker_batch_rows');
  const result = await autocannon({
    url: `${url}/api/v1/logs`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: headersOf(tenants[0]!.key),
    body: body(eventsPerRequest),
    ...(tenants.length > 1 ? { requests: tenants.map((t) => ({ method: 'POST' as const, headers: headersOf(t.key), body: body(eventsPerRequest) })) } : {}),
  });
  const loadEnded = performance.now();
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]));
  const accepted = (statuses['202'] ?? 0) * eventsPerRequest;
  // Postgres counts only once the worker's own tally (rows per INSERT on its /metrics) reaches the accepted
  // events: a count(*) over a million rows took Postgres most of a second, and polled every 100 ms it took
  // a core from the INSERTs it was waiting for
  const workerStored = async () => (await histogram(workerMetrics, 'worker_batch_rows')).sum - batchesBefore.sum;
  const deadline = Date.now() + 300_000;
  let stored = -1;
  while (stored < accepted) {
    const done = !workerMetrics || (await workerStored()) >= accepted || Date.now() >= deadline;
    if (done) stored = (await countRows(sql, clientIds)) - warm;
    if (stored >= accepted || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainS = (performance.now() - loadEnded) / 1000;
  const cpu = Object.fromEntries(meters.map((c, i) => [c.name, c.cpuSeconds() - cpuBefore[i]!]));
  const jobs = await histogram(metrics?.ingest, 'ingest_group_commit_job_events');
  const batches = await histogram(workerMetrics, 'worker_batch_rows');
  return {
    cpu,
    eventsPerJob: (jobs.sum - jobsBefore.sum) / Math.max(1, jobs.count - jobsBefore.count),
    rowsPerInsert: (batches.sum - batchesBefore.sum) / Math.max(1, batches.count - batchesBefore.count),
    name,
    eventsPerRequest,
    seconds,
    accepted,
    stored,
    drainS,
    requestsPerS: accepted / eventsPerRequest / seconds,
    persistedPerS: stored / (seconds + drainS),
    p50: result.latency.p50,
    p99: result.latency.p99,
    statuses,
    errors: result.errors + result.timeouts,
  };
}

async function main(): Promise<void> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 4, applicationName: 'bench' });
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  const one = async (clientId: string) => [{ key: await tenant(sql, clientId), clientId }];
  const singles = TENANTS > 1 ? (await Promise.all(Array.from({ length: TENANTS }, (_, i) => one(`bench-single-${i}`)))).flat() : await one('bench-single');
  const keys = { batched: await one('bench-batched'), single: singles, naive: await one('bench-naive') };

  const [port, metricsPort, ingestMetricsPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...productionSecrets(),
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
    INGEST_PORT: String(port),
    WORKER_METRICS_PORT: String(metricsPort),
    INGEST_METRICS_PORT: String(ingestMetricsPort),
    ...UNLIMITED_RATES,
  };
  const children: Child[] = [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  const scenarios: Scenario[] = [];
  let rss: Record<string, number> = {};
  let memory: MemorySampler | undefined;
  try {
    const url = `http://127.0.0.1:${port}`;
    // /metrics of ingest-api is on its own listener, off the public port
    const metrics = { worker: `http://127.0.0.1:${metricsPort}/metrics`, ingest: `http://127.0.0.1:${ingestMetricsPort}/metrics` };
    await Promise.all([waitHealthy(`${url}/health`), waitHealthy(`http://127.0.0.1:${metricsPort}/health`)]);
    memory = new MemorySampler({ 'ingest-api': metrics.ingest, worker: metrics.worker });
    if (ONLY !== 'single') {
      console.error(`batched: ${CONNECTIONS} connections × ${DURATION_S} s …`);
      scenarios.push(await scenario('batched (100 events/POST)', sql, url, keys.batched, 100, DURATION_S, children, metrics));
    }
    if (ONLY !== 'batched') {
      console.error(`single-event: ${CONNECTIONS} connections × ${DURATION_S} s …`);
      scenarios.push(
        await scenario(TENANTS > 1 ? `single event/POST, ${TENANTS} tenants` : 'single event/POST', sql, url, keys.single, 1, DURATION_S, children, metrics),
      );
    }
  } finally {
    memory?.stop();
    for (const c of children) await c.stop();
    rss = Object.fromEntries(children.map((c) => [c.name, c.peakRssMb()]));
    // the run's queue (and its completed jobs) goes with it
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
  }
  // BENCH_ONLY=batched still measures the COPY ceiling: the batched share of COPY needs both from one run
  if (ONLY && ONLY !== 'batched') {
    await sql.end();
    printReport({ scenarios, ceiling: 0, ceilingRows: 0, rss, cores: cpus().length, durationS: DURATION_S, connections: CONNECTIONS, mode: RUN_MODE });
    printMemory(memory);
    return;
  }

  const ceilingRows = Math.max(scenarios[0]?.stored ?? 0, 10_000);
  console.error(`COPY ceiling: ${ceilingRows} rows …`);
  await createClient(sql, 'bench-copy', 'bench-copy');
  const ceiling = await copyCeiling(sql, 'bench-copy', ceilingRows);
  if (ONLY) {
    await sql.end();
    printReport({ scenarios, ceiling, ceilingRows, rss, cores: cpus().length, durationS: DURATION_S, connections: CONNECTIONS, mode: RUN_MODE });
    return;
  }

  const naivePort = await freePort();
  const naive = startChild('naive', 'bench/ingest/naive.ts', { DATABASE_URL, INGEST_PORT: String(naivePort) });
  try {
    await waitHealthy(`http://127.0.0.1:${naivePort}/health`);
    console.error(`naive baseline: ${CONNECTIONS} connections × ${NAIVE_DURATION_S} s …`);
    scenarios.push(await scenario('naive baseline (single event)', sql, `http://127.0.0.1:${naivePort}`, keys.naive, 1, NAIVE_DURATION_S, [naive]));
  } finally {
    await naive.stop();
  }
  await sql.end();
  printReport({ scenarios, ceiling, ceilingRows, rss, cores: cpus().length, durationS: DURATION_S, connections: CONNECTIONS, mode: RUN_MODE });
  printMemory(memory);
}

/** Where the peak memory went, sampled every 500 ms from each process's /metrics (MB; the peaks need not be at the same moment). */
function printMemory(memory: MemorySampler | undefined): void {
  if (memory) console.log(`Peak memory (MB, sampled from /metrics): ${memory.describe()}\n`);
}

await main();
