// `npm run bench:cluster`: ingest events/s persisted with one Redis against a local Redis Cluster of 3 masters
// and 3 replicas (QUEUE_SHARDS=3), and what REDIS_WAIT_REPLICAS=1 costs on that cluster. Every setup runs
// ingest-api and one worker as child processes against one database; setups alternate round after round,
// so the machine's other load falls on each alike. All Redis servers are this bench's own (AOF everysec,
// as docker-compose.yml runs Redis), on free ports.
// On one machine a cluster adds work (more processes, one connection per master, redirects, per-tenant
// script calls) and no cores: this measures the overhead, not the gain a cluster gives across machines.
// A fourth setup runs two ingest-api and two workers on one Redis (tenants 1 and 3 to the first ingest-api,
// tenant 2 to the second): what a second process of each gives on the same 2 cores.
// Settings (environment): BENCH_DURATION_S (15), BENCH_CONNECTIONS (30, spread over 3 tenants, one per
// queue shard), BENCH_ROUNDS (2), BENCH_SETUPS (e.g. 1,4: only those setups, 1-based), BENCH_DATABASE_URL.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { shardOf } from '@central-logger/queue';
import { killAllChildren } from '../../test/support/child-processes.js';
import { startPrivateRedis } from '../../test/support/private-services.js';
import { startLocalCluster } from '../../test/support/redis-cluster.js';
import { freePort, productionSecrets, startChild, waitHealthy, UNLIMITED_RATES } from '../ingest/processes.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_cluster';
const EVENTS_PER_REQUEST = 100;
const TENANTS = 3;

const body = JSON.stringify(
  Array.from({ length: EVENTS_PER_REQUEST }, (_, i) => ({
    environment: 'bench',
    executed_at: new Date().toISOString(),
    status: 'SUCCESS',
    workflow: 'wf',
    level: 'info',
    message: `bench event ${i}`,
    metadata: { n: i },
  })),
);

interface Setup {
  name: string;
  env: Record<string, string>;
  /** ingest-api and worker processes of each (1); tenant i is sent to ingest-api i mod processes */
  processes?: number;
}

interface Result {
  setup: string;
  round: number;
  accepted: number;
  persistedPerS: number;
  acceptedPerS: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  load: string;
}

/** Tenants, one per queue shard of 3, with keys. */
async function tenants(sql: Sql, tag: string): Promise<Array<{ id: string; key: string }>> {
  const out: Array<{ id: string; key: string }> = [];
  const shards = new Set<number>();
  for (let i = 0; out.length < TENANTS; i++) {
    const id = `bench-${tag}-${i}`;
    if (shards.has(shardOf(id, TENANTS))) continue;
    shards.add(shardOf(id, TENANTS));
    await createClient(sql, id, id);
    out.push({ id, key: (await createKey(sql, { name: id, role: 'agent', clientId: id, bcryptCost: 4 })).key });
  }
  return out;
}

const stored = async (sql: Sql, ids: string[]) => Number((await sql`select count(*)::int as n from workflow_logs where client_id in ${sql(ids)}`)[0]!.n);

async function measure(sql: Sql, setup: Setup, round: number): Promise<Result> {
  const processes = setup.processes ?? 1;
  const ports: Array<{ port: number; metricsPort: number; ingestMetricsPort: number }> = [];
  for (let i = 0; i < processes; i++) ports.push({ port: await freePort(), metricsPort: await freePort(), ingestMetricsPort: await freePort() });
  const common = {
    ...productionSecrets(),
    DATABASE_URL,
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `{bc${randomBytes(3).toString('hex')}}`,
    ...UNLIMITED_RATES,
    ...setup.env,
  };
  const children = ports.flatMap((p) => {
    const env = { ...common, INGEST_PORT: String(p.port), WORKER_METRICS_PORT: String(p.metricsPort), INGEST_METRICS_PORT: String(p.ingestMetricsPort) };
    return [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  });
  try {
    const urls = ports.map((p) => `http://127.0.0.1:${p.port}`);
    await Promise.all(ports.flatMap((p, i) => [waitHealthy(`${urls[i]}/health`), waitHealthy(`http://127.0.0.1:${p.metricsPort}/health`)]));
    const ts = await tenants(sql, `${setup.name.replace(/\W+/g, '')}-${round}-${randomBytes(2).toString('hex')}`);
    const urlOf = (i: number) => urls[i % urls.length]!;
    // each key verified once, on its process, before the clock starts
    for (const [i, t] of ts.entries())
      await fetch(`${urlOf(i)}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': t.key }, body });
    const before = await stored(
      sql,
      ts.map((t) => t.id),
    );
    const started = performance.now();
    const results = await Promise.all(
      ts.map((t, i) =>
        autocannon({
          url: `${urlOf(i)}/api/v1/logs`,
          method: 'POST',
          connections: Math.max(1, Math.floor(CONNECTIONS / TENANTS)),
          duration: DURATION_S,
          headers: { 'content-type': 'application/json', 'x-api-key': t.key },
          body,
        }),
      ),
    );
    const statuses: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(r.statusCodeStats ?? {})) statuses[k] = (statuses[k] ?? 0) + (v.count ?? 0);
    const accepted = (statuses['202'] ?? 0) * EVENTS_PER_REQUEST;
    let n =
      (await stored(
        sql,
        ts.map((t) => t.id),
      )) - before;
    const deadline = Date.now() + 300_000;
    while (n < accepted && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      n =
        (await stored(
          sql,
          ts.map((t) => t.id),
        )) - before;
    }
    const seconds = (performance.now() - started) / 1000;
    return {
      setup: setup.name,
      round,
      accepted,
      acceptedPerS: accepted / DURATION_S,
      persistedPerS: n / seconds,
      p50: Math.max(...results.map((r) => r.latency.p50)),
      p99: Math.max(...results.map((r) => r.latency.p99)),
      statuses,
      load: loadavg()
        .map((l) => l.toFixed(1))
        .join(' '),
    };
  } finally {
    for (const c of children) await c.stop();
  }
}

async function main(): Promise<void> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 4, applicationName: 'bench-cluster' });
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  const single = await startPrivateRedis();
  const cluster = await startLocalCluster();
  const all: Setup[] = [
    { name: '1 Redis', env: { REDIS_URL: single.url, QUEUE_SHARDS: '1' } },
    { name: 'cluster 3+3, 3 shards', env: { REDIS_CLUSTER_NODES: cluster.env, QUEUE_SHARDS: '3' } },
    { name: 'cluster 3+3, 3 shards, WAIT 1', env: { REDIS_CLUSTER_NODES: cluster.env, QUEUE_SHARDS: '3', REDIS_WAIT_REPLICAS: '1' } },
    { name: '1 Redis, 2 ingest-api + 2 workers', env: { REDIS_URL: single.url, QUEUE_SHARDS: '1' }, processes: 2 },
  ];
  // BENCH_SETUPS=1,4: only those (1-based), e.g. one process of each against two
  const picked = process.env.BENCH_SETUPS?.split(',').map((n) => Number(n) - 1);
  const setups = picked ? all.filter((_, i) => picked.includes(i)) : all;
  const results: Result[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const setup of setups) {
        console.error(`round ${round}: ${setup.name}, ${CONNECTIONS} connections × ${DURATION_S} s …`);
        const r = await measure(sql, setup, round);
        console.error(`  ${Math.round(r.persistedPerS)} events/s persisted, p99 ${r.p99} ms, load ${r.load}`);
        results.push(r);
      }
    }
  } finally {
    await single.destroy();
    await cluster.destroy();
    await killAllChildren();
    await sql.end();
  }
  console.log(
    `\nRedis Cluster bench: ${EVENTS_PER_REQUEST} events/POST, ${CONNECTIONS} connections over ${TENANTS} tenants, ${DURATION_S} s, ${ROUNDS} rounds`,
  );
  console.log('| setup | round | accepted ev/s | persisted ev/s | p50 ms | p99 ms | statuses | load avg (1 5 15) |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results)
    console.log(
      `| ${r.setup} | ${r.round} | ${Math.round(r.acceptedPerS)} | ${Math.round(r.persistedPerS)} | ${r.p50} | ${r.p99} | ${JSON.stringify(r.statuses)} | ${r.load} |`,
    );
  const mean = (name: string) => {
    const xs = results.filter((r) => r.setup === name).map((r) => r.persistedPerS);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const [one, clustered, waited, twoOfEach] = all.map((s) => mean(s.name));
  const ratio = (what: string, a: number | undefined, b: number | undefined) =>
    a && b && Number.isFinite(a) && Number.isFinite(b) ? `${what}: ${(a / b).toFixed(2)}` : undefined;
  const ratios = [
    ratio('cluster / 1 Redis, persisted', clustered, one),
    ratio('WAIT 1 / no WAIT on the cluster', waited, clustered),
    ratio('2 ingest-api + 2 workers / 1 of each', twoOfEach, one),
  ].filter(Boolean);
  console.log(`\n${ratios.join('; ')}`);
  console.log('one machine: the cluster shares the same cores as everything else, so this is its overhead, not its gain');
}

await main();
