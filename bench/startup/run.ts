// `npm run bench:startup`: how long each app takes to be ready, what it holds
// in memory once idle, and the CPU it spent getting there; run from its
// TypeScript sources under tsx (as `npm start` does) and from the compiled
// build under plain node (as production does). Builds first (npm run build).
// Settings (environment): BENCH_REPEATS (5) starts per app and mode, the
// median printed; BENCH_IDLE_S (5) seconds of idling before RSS is read;
// BENCH_DATABASE_URL, REDIS_URL.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createSql, dropDatabase, ensureDatabase, migrate } from '@central-logger/db';
import { deleteKeysUnder } from '@central-logger/queue';
import { freePort, nodeArgsFor, productionSecrets, type RunMode } from '../ingest/processes.js';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 5);
const QUEUE_PREFIX = '{bench-startup}';
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_startup';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

type App = 'ingest-api' | 'worker' | 'admin';
const APPS: App[] = ['ingest-api', 'worker', 'admin'];

interface Start {
  /** From spawn to the first 200 from GET /ready (the worker, which serves none: its "worker started" line). */
  readyMs: number;
  /** CPU (user + system) the process had used when it was ready. */
  cpuMs: number;
  /** Resident set size after idling BENCH_IDLE_S seconds. */
  idleRssMb: number;
}

/** Starts `app` once in `mode` and measures it; stops it after. */
async function measure(app: App, mode: RunMode): Promise<Start> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    ...productionSecrets(),
    ENV_FILE: 'none',
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'info',
    QUEUE_PREFIX,
    INGEST_PORT: String(port),
    ADMIN_PORT: String(port),
    INGEST_METRICS_PORT: String(metricsPort),
    ADMIN_METRICS_PORT: String(metricsPort),
    WORKER_METRICS_PORT: String(metricsPort),
  };
  const started = performance.now();
  const proc = spawn(process.execPath, nodeArgsFor(`apps/${app}/src/main.ts`, mode), { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`${app} (${mode}) exited with ${code}`))));
  try {
    const ready = app === 'worker' ? lineSeen(proc.stdout!, /"worker started"/) : readyAt(`http://127.0.0.1:${port}/ready`);
    await Promise.race([ready, exited]);
    const readyMs = performance.now() - started;
    const cpuMs = cpuSecondsOf(proc.pid!) * 1000;
    await sleep(IDLE_S * 1000);
    return { readyMs, cpuMs, idleRssMb: rssMbOf(proc.pid!) };
  } finally {
    exited.catch(() => {});
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
  }
}

async function readyAt(url: string): Promise<void> {
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(10);
  }
}

function lineSeen(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<void> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      if (pattern.test(line)) resolve();
    });
  });
}

function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMbOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function main(): Promise<void> {
  console.error('npm run build …');
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 1, applicationName: 'bench-startup' });
  await migrate(sql);
  await sql.end();

  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const rows: string[][] = [];
  try {
    for (const app of APPS) {
      for (const mode of ['tsx', 'dist'] as const) {
        const runs: Start[] = [];
        // the two modes of one app run back to back: a drift in the machine's load hits both about alike
        for (let i = 0; i < REPEATS; i++) {
          console.error(`${app} (${mode}) ${i + 1}/${REPEATS} …`);
          runs.push(await measure(app, mode));
        }
        rows.push([
          app,
          mode === 'dist' ? 'dist (node)' : 'src (tsx)',
          fmt(median(runs.map((r) => r.readyMs))),
          fmt(median(runs.map((r) => r.cpuMs))),
          fmt(median(runs.map((r) => r.idleRssMb))),
        ]);
      }
    }
  } finally {
    await dropDatabase(DATABASE_URL);
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, QUEUE_PREFIX).finally(() => redis.disconnect());
  }
  console.log(`\nStartup: median of ${REPEATS} starts per row; RSS after ${IDLE_S} s idle; load average at the start ${load}\n`);
  const header = ['app', 'runs from', 'ready ms', 'CPU to ready ms', 'idle RSS MB'];
  console.log([header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n'));
  console.log('\n(ready: GET /ready answers 200; the worker, which serves no /ready: its "worker started" line)');
}

await main();
