// Key-cache soak (bcrypt compares must not grow with time): many tenants, each request with a random one of
// their keys, for minutes, against a real ingest-api (and worker) process.
//   npx tsx --conditions=central-logger-source bench/keys/soak.ts --tenants 500 --keys 1 --minutes 8
// Flags: --tenants (500) --keys per tenant (1) --minutes (8) --connections (20)
//        --window-s (30) --ttl-ms (60000: KEY_CACHE_TTL_MS) --bcrypt-cost (10)
//        --route logs|heartbeat (logs: single events, with a worker draining)
//        --warmup-s (10: load before the first window, not measured: JIT, pools)
// Prints per window: requests/s, p99, the process's bcrypt compares so far,
// and its RSS; then the spread of throughput across windows.
// Uses its own throw-away database and Redis namespace on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { freePort, startChild, waitHealthy, type Child } from '../ingest/processes.js';

const { values: flags } = parseArgs({
  options: {
    tenants: { type: 'string', default: '500' },
    keys: { type: 'string', default: '1' },
    minutes: { type: 'string', default: '8' },
    connections: { type: 'string', default: '20' },
    'window-s': { type: 'string', default: '30' },
    'ttl-ms': { type: 'string', default: '60000' },
    'bcrypt-cost': { type: 'string', default: '10' },
    route: { type: 'string', default: 'logs' },
    'warmup-s': { type: 'string', default: '10' },
  },
});
const TENANTS = Number(flags.tenants);
const KEYS = Number(flags.keys);
const MINUTES = Number(flags.minutes);
const CONNECTIONS = Number(flags.connections);
const WINDOW_MS = Number(flags['window-s']) * 1000;
const BCRYPT_COST = Number(flags['bcrypt-cost']);
const ROUTE = flags.route === 'heartbeat' ? '/api/v1/heartbeat' : '/api/v1/logs';
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `--tenants` clients with `--keys` keys each, hashed 8 at a time (libuv's pool runs 4). */
async function makeKeys(sql: Sql): Promise<string[]> {
  const keys: string[] = [];
  const jobs = Array.from({ length: TENANTS * KEYS }, (_, i) => i);
  for (let t = 0; t < TENANTS; t++) await createClient(sql, `soak_${t}`, `soak ${t}`);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = jobs.shift(); i !== undefined; i = jobs.shift()) {
        keys.push((await createKey(sql, { name: `k${i}`, role: 'agent', clientId: `soak_${i % TENANTS}`, bcryptCost: BCRYPT_COST })).key);
      }
    }),
  );
  return keys;
}

/** A gauge's value in a /metrics text (any labels). */
function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

function rssMb(child: Child): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.proc.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** p99 of a latency histogram in 0.1 ms buckets. */
function p99(hist: Uint32Array, n: number): number {
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= 0.99 * n) return i / 10;
  }
  return hist.length / 10;
}

const dbUrl = `${PG}/cl_bench_soak_${process.pid}`;
const prefix = `{soak${randomBytes(3).toString('hex')}}`;
await ensureDatabase(dbUrl);
const sql = createSql(dbUrl, { max: 4 });
const children: Child[] = [];
try {
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  let t0 = performance.now();
  const keys = await makeKeys(sql);
  console.error(`${keys.length} keys created (bcrypt cost ${BCRYPT_COST}) in ${Math.round(performance.now() - t0)} ms`);

  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = {
    DATABASE_URL: dbUrl,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    INGEST_PORT: String(port),
    INGEST_METRICS_PORT: String(metricsPort),
    WORKER_METRICS_PORT: String(await freePort()),
    KEY_CACHE_TTL_MS: flags['ttl-ms']!,
    BCRYPT_COST: String(BCRYPT_COST),
    RATE_KEY_REQUESTS_PER_SECOND: '1000000',
    RATE_KEY_REQUEST_BURST: '1000000',
    RATE_KEY_EVENTS_PER_SECOND: '100000000',
    RATE_KEY_EVENT_BURST: '100000000',
    RATE_TENANT_EVENTS_PER_DAY: '1000000000000',
  };
  const ingest = startChild('ingest-api', 'apps/ingest-api/src/main.ts', env);
  children.push(ingest);
  if (ROUTE === '/api/v1/logs') children.push(startChild('worker', 'apps/worker/src/main.ts', env));
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/health`);

  // every key once, before the clock starts: the one bcrypt per key per process the cache allows
  // (4 at a time: AUTH_INFLIGHT_PER_ADDRESS, as all of this comes from one address)
  t0 = performance.now();
  const queue = [...keys];
  let refused = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let k = queue.shift(); k; k = queue.shift()) {
        const res = await fetch(`${base}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': k } });
        await res.arrayBuffer();
        if (res.status !== 200) refused++;
      }
    }),
  );
  console.error(`warm-up: every key verified once in ${Math.round(performance.now() - t0)} ms (${refused} not 200)`);
  const body = () => JSON.stringify({ environment: 'soak', executed_at: new Date().toISOString(), status: 'SUCCESS', workflow: 'soak', message: 'hello' });
  const request = {
    method: 'POST' as const,
    path: ROUTE,
    setupRequest: (req: autocannon.Request) => ({
      ...req,
      headers: { 'content-type': 'application/json', 'x-api-key': keys[Math.floor(Math.random() * keys.length)]! },
      body: body(),
    }),
  };
  if (Number(flags['warmup-s']) > 0) await autocannon({ url: base, connections: CONNECTIONS, duration: Number(flags['warmup-s']), requests: [request] });

  const windows: Array<{ rps: number; p99: number; non2xx: number; compares: number; rssMb: number }> = [];
  const total = new Uint32Array(50_000);
  let totalN = 0;
  let win = new Uint32Array(50_000);
  let winN = 0;
  let non2xx = 0;
  const statuses = new Map<number, number>();
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const instance = autocannon(
    {
      url: base,
      connections: CONNECTIONS,
      duration: MINUTES * 60,
      requests: [request],
    },
    () => finished(),
  );
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    const b = Math.min(Math.round(ms * 10), total.length - 1);
    total[b]!++;
    win[b]!++;
    totalN++;
    winN++;
    if (status >= 300) {
      non2xx++;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  });
  let last = performance.now();
  const sampler = setInterval(async () => {
    const now = performance.now();
    const [w, n, bad] = [win, winN, non2xx];
    win = new Uint32Array(50_000);
    winN = 0;
    non2xx = 0;
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text().catch(() => '');
    const row = { rps: (n * 1000) / (now - last), p99: p99(w, n), non2xx: bad, compares: gauge(metrics, 'auth_bcrypt_compares'), rssMb: rssMb(ingest) };
    last = now;
    windows.push(row);
    console.error(
      `window ${windows.length}: ${Math.round(row.rps)} req/s, p99 ${row.p99} ms, non-2xx ${bad}, bcrypt compares ${row.compares}, RSS ${row.rssMb.toFixed(0)} MB`,
    );
  }, WINDOW_MS);
  await done;
  clearInterval(sampler);

  const rates = windows.map((w) => w.rps);
  const mean = rates.reduce((a, b) => a + b, 0) / Math.max(rates.length, 1);
  console.log(
    `\nkey-cache soak: ${TENANTS} tenants × ${KEYS} keys = ${keys.length} keys, ${MINUTES} min, ${CONNECTIONS} connections, ${ROUTE}, KEY_CACHE_TTL_MS ${flags['ttl-ms']}, bcrypt cost ${BCRYPT_COST}`,
  );
  console.log('| window | req/s | p99 ms | non-2xx | bcrypt compares (process total) | RSS MB |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [i, w] of windows.entries()) console.log(`| ${i + 1} | ${Math.round(w.rps)} | ${w.p99} | ${w.non2xx} | ${w.compares} | ${w.rssMb.toFixed(0)} |`);
  console.log(
    `\nthroughput per window: min ${Math.round(Math.min(...rates))}, max ${Math.round(Math.max(...rates))}, spread ${(((Math.max(...rates) - Math.min(...rates)) / mean) * 100).toFixed(1)}% of the mean`,
  );
  if (statuses.size > 0) console.log(`non-2xx by status: ${[...statuses].map(([s, n]) => `${s} × ${n}`).join(', ')}`);
  console.log(
    `overall p99 ${p99(total, totalN)} ms over ${totalN} requests; bcrypt compares ${windows.at(-1)?.compares ?? NaN} for ${keys.length} keys (warm-up included: the goal is one per key)`,
  );
} finally {
  for (const c of children) await c.stop();
  await sql.end();
  await dropDatabase(dbUrl);
  const redis = new Redis(REDIS_URL);
  await deleteKeysUnder(redis, prefix).finally(() => redis.disconnect());
}
