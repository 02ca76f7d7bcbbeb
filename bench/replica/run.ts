// Standby lag under the ingest bench's load: `npm run bench:replica`.
//
// A private primary and streaming standby (test/support/replica.ts: own ports
// and data directories, fsync off on both like the tests' servers), ingest-api
// and a worker as processes with READ_REPLICA_URL pointing at the standby, and
// the batched scenario of bench:ingest (100 events a POST, 50 connections).
// Meanwhile, every 200 ms: the primary's view of the standby
// (pg_stat_replication: replay_lag, and WAL bytes not yet replayed), and
// every 500 ms a tenant read's X-Data-Lag-Ms (what a client is told).
// Prints events/s persisted, the lag percentiles and the load average.
// "stored" may exceed "accepted": autocannon does not count the answers of
// requests still in flight when it stops, but the service stored them.
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, ensureDatabase, migrate, readerUrl, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { startPrimaryAndStandby } from '../../test/support/replica.js';
import { freePort, productionSecrets, startChild, waitHealthy, type Child, UNLIMITED_RATES } from '../ingest/processes.js';
import { benchEvent } from '../ingest/bench-event.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const EVENTS_PER_POST = 100;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DB = 'central_logger';

function percentiles(values: number[]): string {
  if (values.length === 0) return 'no samples';
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return `p50 ${at(50).toFixed(0)}, p95 ${at(95).toFixed(0)}, p99 ${at(99).toFixed(0)}, max ${s.at(-1)!.toFixed(0)} (${s.length} samples)`;
}

async function sampleReplication(primary: Sql): Promise<{ lagMs: number; bytes: number } | undefined> {
  const [row] = await primary`
    select coalesce(extract(epoch from replay_lag) * 1000, 0)::float8 as lag_ms,
      pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 as bytes
    from pg_stat_replication`;
  return row ? { lagMs: Number(row.lag_ms), bytes: Number(row.bytes) } : undefined;
}

async function main(): Promise<void> {
  const pg = await startPrimaryAndStandby();
  const children: Child[] = [];
  const prefix = `{benchrep${randomBytes(3).toString('hex')}}`;
  try {
    await ensureDatabase(pg.primary.url(DB));
    const sql = createSql(pg.primary.url(DB), { max: 4, applicationName: 'bench' });
    await migrate(sql);
    await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
    await createClient(sql, 'bench-replica', 'bench-replica');
    const writer = (await createKey(sql, { name: 'writer', role: 'agent', clientId: 'bench-replica', bcryptCost: 10 })).key;
    const reader = (await createKey(sql, { name: 'reader', role: 'reader', clientId: 'bench-replica', bcryptCost: 10 })).key;
    const [port, metricsPort, ingestMetricsPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      ...productionSecrets(),
      DATABASE_URL: pg.primary.url(DB),
      READ_REPLICA_URL: readerUrl(pg.standby.url(DB)),
      REDIS_URL,
      LOG_LEVEL: 'warn',
      QUEUE_PREFIX: prefix,
      INGEST_PORT: String(port),
      WORKER_METRICS_PORT: String(metricsPort),
      INGEST_METRICS_PORT: String(ingestMetricsPort),
      ...UNLIMITED_RATES,
    };
    children.push(startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env));
    const url = `http://127.0.0.1:${port}`;
    await Promise.all([waitHealthy(`${url}/health`), waitHealthy(`http://127.0.0.1:${metricsPort}/health`)]);

    const replication: Array<{ lagMs: number; bytes: number }> = [];
    const header: number[] = [];
    const readMs: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await sampleReplication(sql).catch(() => undefined);
        if (s) replication.push(s);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const readerLoop = (async () => {
      while (sampling) {
        const started = performance.now();
        const res = await fetch(`${url}/api/v1/logs?limit=10`, { headers: { 'x-api-key': reader } }).catch(() => undefined);
        if (res) {
          await res.arrayBuffer();
          readMs.push(performance.now() - started);
          const lag = res.headers.get('x-data-lag-ms');
          if (lag !== null) header.push(Number(lag));
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const loadBefore = loadavg();
    console.error(`load: ${CONNECTIONS} connections × ${DURATION_S} s, ${EVENTS_PER_POST} events a POST …`);
    const result = await autocannon({
      url: `${url}/api/v1/logs`,
      method: 'POST',
      connections: CONNECTIONS,
      duration: DURATION_S,
      headers: { 'content-type': 'application/json', 'x-api-key': writer },
      body: JSON.stringify(Array.from({ length: EVENTS_PER_POST }, (_, i) => benchEvent(i))),
    });
    const ended = performance.now();
    const accepted = (result.statusCodeStats?.['202']?.count ?? 0) * EVENTS_PER_POST;
    const count = async () => Number((await sql`select count(*)::int as n from workflow_logs where client_id = 'bench-replica'`)[0]!.n);
    let stored = await count();
    while (stored < accepted && performance.now() - ended < 300_000) {
      await new Promise((r) => setTimeout(r, 100));
      stored = await count();
    }
    const drainS = (performance.now() - ended) / 1000;
    sampling = false;
    await Promise.all([sampler, readerLoop]);
    const loadAfter = loadavg();

    console.log(`bench:replica — ${new Date().toISOString()}, ${DURATION_S} s, ${CONNECTIONS} connections, ${EVENTS_PER_POST} events/POST`);
    console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
    console.log(
      `accepted ${accepted}, stored ${stored}, drained ${drainS.toFixed(1)} s after the load; ${(stored / (DURATION_S + drainS)).toFixed(0)} events/s persisted`,
    );
    console.log(`standby replay_lag (pg_stat_replication, ms): ${percentiles(replication.map((s) => s.lagMs))}`);
    console.log(`standby WAL not yet replayed (KiB): ${percentiles(replication.map((s) => s.bytes / 1024))}`);
    console.log(`X-Data-Lag-Ms on tenant reads (ms): ${percentiles(header)}; ${header.length} of ${readMs.length} reads served by the standby`);
    console.log(`GET /api/v1/logs?limit=10 under load (ms): ${percentiles(readMs)}`);
    await sql.end();
  } finally {
    for (const c of children) await c.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, prefix).finally(() => redis.disconnect());
    await pg.destroy();
  }
}

await main();
