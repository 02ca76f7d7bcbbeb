// `npx tsx --conditions=central-logger-source bench/otlp/run.ts`: OTLP/HTTP protobuf batches against JSON batches
// of the same events, in one run. Runs ingest-api and the worker as child
// processes (bench/ingest's helpers) against a database of its own, drives
// POST /v1/logs and then POST /api/v1/logs with autocannon, and prints events
// persisted per second for each, their ratio, and the core count.
// Every request carries new records (its number written into a template): OTLP
// event ids come from the content, so a repeated body would be stored once.
// Settings (environment): BENCH_DURATION_S (20), BENCH_CONNECTIONS (20),
// BENCH_RECORDS (100 per request), BENCH_JSON_FIRST=1 (run JSON first), BENCH_DATABASE_URL, REDIS_URL.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { benchBodies, RECORDS } from './bodies.js';
import { commandMeter, freePort, productionSecrets, selfMeter, startChild, waitHealthy, type Child, type CpuMeter } from '../ingest/processes.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_otlp';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const JSON_FIRST = process.env.BENCH_JSON_FIRST === '1';
const SHARED_METERS = [commandMeter('postgres', 'postgres'), commandMeter('redis', 'redis-server'), selfMeter('autocannon')];

interface Result {
  name: string;
  accepted: number;
  stored: number;
  drainS: number;
  persistedPerS: number;
  statuses: Record<string, number>;
  cpu: Record<string, number>;
}

const countRows = async (sql: Sql, clientId: string) => Number((await sql`select count(*)::int as n from workflow_logs where client_id = ${clientId}`)[0]!.n);

async function drive(name: string, sql: Sql, url: string, clientId: string, key: string, contentType: string, body: (n: number) => Buffer | string, ok: number, meters: CpuMeter[], seconds = DURATION_S): Promise<Result> {
  let n = 0;
  const before = await countRows(sql, clientId);
  const cpuBefore = meters.map((m) => m.cpuSeconds());
  const result = await autocannon({
    url, connections: CONNECTIONS, duration: seconds,
    requests: [{ method: 'POST', headers: { 'content-type': contentType, 'x-api-key': key }, setupRequest: (req) => ({ ...req, body: body(n++) }) }],
  });
  const loadEnded = performance.now();
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0]));
  const accepted = (statuses[String(ok)] ?? 0) * RECORDS;
  let stored = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    stored = (await countRows(sql, clientId)) - before;
    if (stored >= accepted || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainS = (performance.now() - loadEnded) / 1000;
  const cpu = Object.fromEntries(meters.map((m, i) => [m.name, (m.cpuSeconds() - cpuBefore[i]!) / Math.max(1, stored) * 1000]));
  return { name, accepted, stored, drainS, persistedPerS: stored / (seconds + drainS), statuses, cpu };
}

async function tenant(sql: Sql, id: string): Promise<string> {
  await createClient(sql, id, id);
  return (await createKey(sql, { name: `${id} key`, role: 'agent', clientId: id, bcryptCost: 10 })).key;
}

async function main(): Promise<void> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 4, applicationName: 'bench' });
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  const keys = { otlp: await tenant(sql, 'bench-otlp'), json: await tenant(sql, 'bench-json'), warm: await tenant(sql, 'bench-warm') };
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = {
    ...productionSecrets(), DATABASE_URL, REDIS_URL, LOG_LEVEL: 'warn', QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
    INGEST_PORT: String(port), WORKER_METRICS_PORT: String(metricsPort),
    RATE_KEY_REQUESTS_PER_SECOND: '1000000', RATE_KEY_REQUEST_BURST: '1000000', RATE_KEY_EVENTS_PER_SECOND: '100000000', RATE_KEY_EVENT_BURST: '100000000', RATE_TENANT_EVENTS_PER_DAY: '1000000000000',
  };
  const children: Child[] = [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  const meters = [...children, ...SHARED_METERS];
  const results: Result[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    // a loaded machine can take a minute to compile and start both
    await Promise.all([waitHealthy(`${base}/health`, 120_000), waitHealthy(`http://127.0.0.1:${metricsPort}/health`, 120_000)]);
    const { protobuf: protobufBody, json: jsonBody } = benchBodies();
    const otlp = () => drive('OTLP protobuf (POST /v1/logs)', sql, `${base}/v1/logs`, 'bench-otlp', keys.otlp, 'application/x-protobuf', protobufBody, 200, meters);
    const json = () => drive('JSON (POST /api/v1/logs)', sql, `${base}/api/v1/logs`, 'bench-json', keys.json, 'application/json', jsonBody, 202, meters);
    // a short warm-up of both (JIT, partitions, caches), not counted, so the order matters less
    console.error('warm-up …');
    await drive('warm-up', sql, `${base}/v1/logs`, 'bench-warm', keys.warm, 'application/x-protobuf', protobufBody, 200, [], 2);
    await drive('warm-up', sql, `${base}/api/v1/logs`, 'bench-warm', keys.warm, 'application/json', jsonBody, 202, [], 2);
    console.error(`${CONNECTIONS} connections × ${DURATION_S} s, ${RECORDS} records a request, OTLP protobuf and JSON of the same events …`);
    if (JSON_FIRST) results.push(await json(), await otlp());
    else results.push(await otlp(), await json());
  } finally {
    for (const c of children) await c.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
    await sql.end();
  }
  console.log(`\nOTLP vs JSON ingest — ${cpus().length} cores, ${CONNECTIONS} connections, ${DURATION_S} s each, ${RECORDS} events a request\n`);
  console.log('| scenario | accepted | stored | drain s | events/s persisted | answers | CPU s per 1,000 events (ingest-api / worker / postgres / redis / load) |');
  console.log('| --- | ---: | ---: | ---: | ---: | --- | --- |');
  for (const r of results) {
    const cpu = ['ingest-api', 'worker', 'postgres', 'redis', 'autocannon'].map((k) => (r.cpu[k] ?? 0).toFixed(3)).join(' / ');
    console.log(`| ${r.name} | ${r.accepted} | ${r.stored} | ${r.drainS.toFixed(1)} | ${Math.round(r.persistedPerS)} | ${JSON.stringify(r.statuses)} | ${cpu} |`);
  }
  const otlp = results.find((r) => r.name.startsWith('OTLP'));
  const json = results.find((r) => r.name.startsWith('JSON'));
  if (otlp && json) console.log(`\nOTLP / JSON events persisted per second: ${((otlp.persistedPerS / json.persistedPerS) * 100).toFixed(0)}% (target ≥ 90%)`);
}

await main();
