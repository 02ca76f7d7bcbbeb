// Benchmark of the key hot path and of revocation, in one command:
//   npx tsx --conditions=central-logger-source bench/keys/run.ts            (DURATION_S=5 CONNECTIONS=10 REPEATS=5 by default)
// 1. requests/s of POST /api/v1/heartbeat on a real ingest-api process (key
//    cached after its first use) against a naive server that looks the key up
//    and runs bcrypt (cost BCRYPT_COST, default 10) on every request; same run.
// 2. time from `central-logger api-key revoke` to the first 401 on each of two
//    ingest-api processes, and from the revocation being announced (library
//    call, no CLI start-up) to the first 401, over REPEATS keys.
// Uses its own throw-away database and Redis namespace on 127.0.0.1.
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate } from '@central-logger/db';
import { createKey, revokeKeyEverywhere } from '@central-logger/keys';
import { centralLogger, spawnIngestApi, spawnService } from '../../test/support/child-processes.js';

const DURATION_S = Number(process.env.DURATION_S ?? 5);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 10);
const REPEATS = Number(process.env.REPEATS ?? 5);
const BCRYPT_COST = process.env.BCRYPT_COST ?? '10';
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const dbUrl = `${PG}/cl_bench_keys_${process.pid}`;
const env = {
  DATABASE_URL: dbUrl,
  REDIS_URL,
  QUEUE_PREFIX: `{bench${randomBytes(4).toString('hex')}}`,
  LOG_LEVEL: 'info',
  BCRYPT_COST,
  DATABASE_POOL_SIZE: '10',
  // the benchmark's own failures must not trip the per-address limit
  AUTH_FAILURE_LIMIT: '1000000',
};

await ensureDatabase(dbUrl);
const sql = createSql(dbUrl, { max: 2 });
await migrate(sql);
await createClient(sql, 'bench', 'Benchmark tenant');
const newKey = async (name: string) => (await createKey(sql, { name, role: 'agent', clientId: 'bench', bcryptCost: Number(BCRYPT_COST) })).key;
const cleanup: Array<() => Promise<void>> = [];

try {
  await throughput();
  await revocation();
} finally {
  for (const c of cleanup.reverse()) await c().catch(() => {});
  await sql.end();
  await dropDatabase(dbUrl);
}

async function load(url: string, key: string): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await autocannon({ url, method: 'POST', connections: CONNECTIONS, duration: DURATION_S, headers: { 'x-api-key': key } });
  return { rps: result.requests.average, p99: result.latency.p99, non2xx: result.non2xx };
}

async function throughput(): Promise<void> {
  const key = await newKey('throughput');
  const ingest = await spawnIngestApi(env);
  cleanup.push(() => ingest.stop());
  const naive = spawnService('bench/keys/naive-server.ts', {}, [dbUrl]);
  cleanup.push(() => naive.stop());
  const naivePort = (JSON.parse(await naive.waitForLine(/"port"/)) as { port: number }).port;

  const cached = await load(`${ingest.baseUrl}/api/v1/heartbeat`, key);
  const naiveResult = await load(`http://127.0.0.1:${naivePort}/api/v1/heartbeat`, key);
  console.log(`\nheartbeat, ${CONNECTIONS} connections, ${DURATION_S} s each, bcrypt cost ${BCRYPT_COST}`);
  console.log(`  cached key (ingest-api):        ${cached.rps.toFixed(0).padStart(7)} req/s   p99 ${cached.p99} ms   non-2xx ${cached.non2xx}`);
  console.log(`  bcrypt every request (naive):   ${naiveResult.rps.toFixed(0).padStart(7)} req/s   p99 ${naiveResult.p99} ms   non-2xx ${naiveResult.non2xx}`);
  console.log(`  ratio:                          ${(cached.rps / Math.max(naiveResult.rps, 1)).toFixed(1)}x`);
  await Promise.all([ingest.stop(), naive.stop()]);
}

/** Polls `baseUrl` with `key` until a 401; resolves with the time it arrived. */
async function first401(baseUrl: string, key: string): Promise<number> {
  for (let i = 0; i < 100_000; i++) {
    const res = await fetch(`${baseUrl}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': key } });
    await res.arrayBuffer();
    if (res.status === 401) return performance.now();
  }
  throw new Error('no 401');
}

async function revocation(): Promise<void> {
  const [a, b] = await Promise.all([spawnIngestApi(env), spawnIngestApi(env)]);
  cleanup.push(
    () => a.stop(),
    () => b.stop(),
  );
  const redis = new Redis(REDIS_URL);
  cleanup.push(async () => void redis.disconnect());
  const warm = async (key: string) => {
    for (const p of [a, b]) await fetch(`${p.baseUrl}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': key } });
  };

  console.log('\nrevocation → first 401, two ingest-api processes');
  const cliKey = await newKey('cli');
  await warm(cliKey);
  const started = performance.now();
  const polls = [first401(a.baseUrl, cliKey), first401(b.baseUrl, cliKey)];
  const cli = await centralLogger(['api-key', 'revoke', cliKey.slice(0, 16)], env);
  const cliDone = performance.now();
  const [ta, tb] = await Promise.all(polls);
  if (cli.code !== 0) throw new Error(cli.stderr);
  console.log(
    `  \`api-key revoke\` CLI: took ${(cliDone - started).toFixed(0)} ms to run (mostly start-up); first 401 ${(ta! - started).toFixed(0)} / ${(tb! - started).toFixed(0)} ms after it started, ${(ta! - cliDone).toFixed(0)} / ${(tb! - cliDone).toFixed(0)} ms after it exited`,
  );

  const delays: number[][] = [[], []];
  for (let i = 0; i < REPEATS; i++) {
    const { key, record } = await createKey(sql, { name: `lib-${i}`, role: 'agent', clientId: 'bench', bcryptCost: Number(BCRYPT_COST) });
    await warm(key);
    const since = performance.now();
    const pending = [first401(a.baseUrl, key), first401(b.baseUrl, key)];
    await revokeKeyEverywhere(sql, redis, record.id);
    const [x, y] = await Promise.all(pending);
    delays[0]!.push(x! - since);
    delays[1]!.push(y! - since);
  }
  const fmt = (v: number[]) => `median ${median(v).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms`;
  console.log(`  revokeKeyEverywhere (DB update + publish), ${REPEATS} keys: process 1 ${fmt(delays[0]!)}; process 2 ${fmt(delays[1]!)}`);
}

function median(v: number[]): number {
  const s = [...v].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}
