// `npx tsx --conditions=central-logger-source bench/otlp/run.ts`: OTLP/HTTP protobuf batches against JSON batches
// of the same events, in one run. Runs ingest-api and the worker as child
// processes (bench/ingest's helpers) against a database of its own, drives
// POST /v1/logs and POST /api/v1/logs with autocannon in alternating rounds
// (OTLP, JSON, JSON, OTLP, … so that a neighbour's load drifting over the run
// weighs on both alike), and prints events persisted per second for each,
// their ratio, and the core count.
// Every request carries new records (its number written into a template): OTLP
// event ids come from the content, so a repeated body would be stored once.
// Settings (environment): BENCH_DURATION_S (20 per encoding, split over the
// rounds), BENCH_ROUNDS (2), BENCH_CONNECTIONS (20), BENCH_RECORDS (100 per
// request), BENCH_JSON_FIRST=1 (JSON opens the first round), BENCH_DATABASE_URL, REDIS_URL.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { benchBodies, RECORDS } from './bodies.js';
import {
  commandMeter,
  freePort,
  productionSecrets,
  selfMeter,
  startChild,
  waitHealthy,
  type Child,
  type CpuMeter,
  UNLIMITED_RATES,
} from '../ingest/processes.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_otlp';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const JSON_FIRST = process.env.BENCH_JSON_FIRST === '1';
const SHARED_METERS = [commandMeter('postgres', 'postgres'), commandMeter('redis', 'redis-server'), selfMeter('autocannon')];

// numbers every request of the run: a body sent again (same records, same OTLP event ids) would be stored once
let requestNumber = 0;

interface Result {
  name: string;
  seconds: number;
  accepted: number;
  stored: number;
  drainS: number;
  persistedPerS: number;
  statuses: Record<string, number>;
  cpu: Record<string, number>;
}

const countRows = async (sql: Sql, clientId: string) => Number((await sql`select count(*)::int as n from workflow_logs where client_id = ${clientId}`)[0]!.n);

async function drive(
  name: string,
  sql: Sql,
  url: string,
  clientId: string,
  key: string,
  contentType: string,
  body: (n: number) => Buffer | string,
  ok: number,
  meters: CpuMeter[],
  seconds = DURATION_S,
): Promise<Result> {
  const before = await countRows(sql, clientId);
  let refusal: string | undefined;
  const cpuBefore = meters.map((m) => m.cpuSeconds());
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': contentType, 'x-api-key': key },
        setupRequest: (req) => ({ ...req, body: body(requestNumber++) }),
        onResponse: (status, answer) => {
          if (status !== ok && refusal === undefined) refusal = `${status} ${answer.slice(0, 200)}`;
        },
      },
    ],
  });
  if (refusal) console.error(`${name}: first refusal: ${refusal}`);
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
  const cpu = Object.fromEntries(meters.map((m, i) => [m.name, ((m.cpuSeconds() - cpuBefore[i]!) / Math.max(1, stored)) * 1000]));
  return { name, seconds, accepted, stored, drainS, persistedPerS: stored / (seconds + drainS), statuses, cpu };
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
    ...productionSecrets(),
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
    INGEST_PORT: String(port),
    WORKER_METRICS_PORT: String(metricsPort),
    ...UNLIMITED_RATES,
    // one tenant at a time: all of it in the fast lane, whose workers drain it as fast as they can (the bulk lane's
    // few workers would make the drain depend on how much of a phase passed the fair share)
    FAIR_SHARE_EVENTS_PER_SECOND: '100000000',
    FAIR_SHARE_BURST: '100000000',
  };
  const children: Child[] = [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  const meters = [...children, ...SHARED_METERS];
  const results: Result[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    // a loaded machine can take a minute to compile and start both
    await Promise.all([waitHealthy(`${base}/health`, 120_000), waitHealthy(`http://127.0.0.1:${metricsPort}/health`, 120_000)]);
    const { protobuf: protobufBody, json: jsonBody } = benchBodies();
    const seconds = Math.max(5, DURATION_S / ROUNDS);
    const otlp = (round: number) =>
      drive(`${OTLP_NAME}, round ${round}`, sql, `${base}/v1/logs`, 'bench-otlp', keys.otlp, 'application/x-protobuf', protobufBody, 200, meters, seconds);
    const json = (round: number) =>
      drive(`${JSON_NAME}, round ${round}`, sql, `${base}/api/v1/logs`, 'bench-json', keys.json, 'application/json', jsonBody, 202, meters, seconds);
    // a short warm-up of both (JIT, partitions, caches), not counted, so the order matters less
    console.error('warm-up …');
    await drive('warm-up', sql, `${base}/v1/logs`, 'bench-warm', keys.warm, 'application/x-protobuf', protobufBody, 200, [], 2);
    await drive('warm-up', sql, `${base}/api/v1/logs`, 'bench-warm', keys.warm, 'application/json', jsonBody, 202, [], 2);
    console.error(
      `${CONNECTIONS} connections, ${ROUNDS} rounds × ${seconds} s per encoding, ${RECORDS} records a request, OTLP protobuf and JSON of the same events …`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      // ABBA: the encoding that opens a round closes the next
      const otlpFirst = (round % 2 === 1) !== JSON_FIRST;
      if (otlpFirst) results.push(await otlp(round), await json(round));
      else results.push(await json(round), await otlp(round));
    }
  } finally {
    for (const c of children) await c.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
    await sql.end();
  }
  console.log(
    `\nOTLP vs JSON ingest — ${cpus().length} cores, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${Math.max(5, DURATION_S / ROUNDS)} s per encoding, ${RECORDS} events a request\n`,
  );
  console.log(
    '| scenario | accepted | stored | drain s | events/s persisted | answers | CPU s per 1,000 events (ingest-api / worker / postgres / redis / load) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | --- | --- |');
  const totals = [OTLP_NAME, JSON_NAME].map((name) =>
    total(
      name,
      results.filter((r) => r.name.startsWith(name)),
    ),
  );
  for (const r of [...results, ...totals]) {
    const cpu = ['ingest-api', 'worker', 'postgres', 'redis', 'autocannon'].map((k) => (r.cpu[k] ?? 0).toFixed(3)).join(' / ');
    console.log(
      `| ${r.name} | ${r.accepted} | ${r.stored} | ${r.drainS.toFixed(1)} | ${Math.round(r.persistedPerS)} | ${JSON.stringify(r.statuses)} | ${cpu} |`,
    );
  }
  const [otlp, json] = totals as [Result, Result];
  if (otlp.stored > 0 && json.stored > 0)
    console.log(`\nOTLP / JSON events persisted per second: ${((otlp.persistedPerS / json.persistedPerS) * 100).toFixed(0)}% (target ≥ 90%)`);
}

const OTLP_NAME = 'OTLP protobuf (POST /v1/logs)';
const JSON_NAME = 'JSON (POST /api/v1/logs)';

/** The rounds of one encoding as one row: events over time, CPU over events. */
function total(name: string, rounds: Result[]): Result {
  const sum = (f: (r: Result) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const stored = sum((r) => r.stored);
  const statuses: Record<string, number> = {};
  for (const r of rounds) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  // each round's CPU per 1,000 events, weighted back into CPU seconds
  const cpu = Object.fromEntries(
    Object.keys(rounds[0]?.cpu ?? {}).map((k) => [k, (sum((r) => (r.cpu[k]! * Math.max(1, r.stored)) / 1000) / Math.max(1, stored)) * 1000]),
  );
  return {
    name: `**${name}, all rounds**`,
    seconds: sum((r) => r.seconds),
    accepted: sum((r) => r.accepted),
    stored,
    drainS: sum((r) => r.drainS),
    persistedPerS: stored / sum((r) => r.seconds + r.drainS),
    statuses,
    cpu,
  };
}

await main();
