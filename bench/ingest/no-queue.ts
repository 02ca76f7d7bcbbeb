// `npx tsx --conditions=central-logger-source bench/ingest/no-queue.ts`: what
// ingest-api costs per single event with its queue write taken out
// (no-queue-server.ts), under the load of `npm run bench:ingest`'s single-event
// scenario, against the load generator's cost. With http-floor.ts (a bare
// Node HTTP server) it splits issue 18's "our CPU per single event ≤ 3.5× the
// load generator's" into what HTTP alone costs, what the service's own work
// before the queue adds, and (by difference with bench:ingest) what queueing
// and storing add. Redis still counts usage and leases rate-limit tokens;
// Postgres is touched only to verify the key once.
// Settings: BENCH_DURATION_S (30), BENCH_CONNECTIONS (50), BENCH_RATE (0 = as fast as it goes, as bench:ingest).
import { loadavg } from 'node:os';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { commandMeter, freePort, productionSecrets, selfMeter, startChild, UNLIMITED_RATES, waitHealthy } from './processes.js';
import { benchEvent } from './bench-event.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 30);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const RATE = Number(process.env.BENCH_RATE ?? 0);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_no_queue';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const event = benchEvent();

await dropDatabase(DATABASE_URL);
await ensureDatabase(DATABASE_URL);
const sql = createSql(DATABASE_URL, { max: 2, applicationName: 'bench' });
await migrate(sql);
await createClient(sql, 'bench-no-queue', 'bench-no-queue');
const { key } = await createKey(sql, { name: 'bench key', role: 'agent', clientId: 'bench-no-queue', bcryptCost: 10 });
const [port, metricsPort] = [await freePort(), await freePort()];
const env = {
  ...productionSecrets(),
  DATABASE_URL,
  REDIS_URL,
  LOG_LEVEL: 'warn',
  QUEUE_PREFIX: `{bench${randomBytes(3).toString('hex')}}`,
  INGEST_PORT: String(port),
  INGEST_METRICS_PORT: String(metricsPort),
  ...UNLIMITED_RATES,
};
const server = startChild('ingest-api', 'bench/ingest/no-queue-server.ts', env);
const meters = [server, commandMeter('redis', 'redis-server'), selfMeter('autocannon')];
try {
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}/health`);
  // the key's first use verifies it (bcrypt) and warms the process, before anything is measured
  await autocannon({
    url: `${url}/api/v1/logs`,
    method: 'POST',
    connections: 4,
    amount: 2_000,
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(event),
  });
  const before = meters.map((m) => m.cpuSeconds());
  const result = await autocannon({
    url: `${url}/api/v1/logs`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: DURATION_S,
    ...(RATE > 0 ? { overallRate: RATE } : {}),
    headers: { 'content-type': 'application/json', 'x-api-key': key },
    body: JSON.stringify(event),
  });
  const accepted = result.statusCodeStats?.['202']?.count ?? 0;
  const us = Object.fromEntries(meters.map((m, i) => [m.name, ((m.cpuSeconds() - before[i]!) * 1e6) / accepted]));
  console.log(
    `\ningest-api without its queue write, ${CONNECTIONS} connections × ${DURATION_S} s${RATE > 0 ? ` at ${RATE.toLocaleString('en-US')} req/s` : ''}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `202s ${accepted.toLocaleString('en-US')} (${Math.round(accepted / DURATION_S).toLocaleString('en-US')}/s) of ${result.requests.total.toLocaleString('en-US')} requests, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
  );
  console.log(
    `CPU per accepted event: ingest-api ${us['ingest-api']!.toFixed(1)} µs, Redis ${us.redis!.toFixed(1)} µs, autocannon ${us.autocannon!.toFixed(1)} µs; ingest-api alone is ${(us['ingest-api']! / us.autocannon!).toFixed(2)}× the load generator's, with Redis ${((us['ingest-api']! + us.redis!) / us.autocannon!).toFixed(2)}×`,
  );
} finally {
  await server.stop();
  const redis = new Redis(REDIS_URL);
  await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
  await sql.end();
  await dropDatabase(DATABASE_URL);
}
