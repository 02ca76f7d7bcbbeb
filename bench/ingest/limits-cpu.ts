// What the rate limits and usage counting cost per request, in CPU time (steady on a shared machine, unlike
// throughput): this process's (as one ingest-api's) and Redis's, on a Redis of its own so that its CPU is ours alone.
//   npx tsx --conditions=central-logger-source bench/ingest/limits-cpu.ts
// Settings (environment): LIMITS_CPU_TURNS (4000) turns of the event loop per run, LIMITS_CPU_PER_TURN (8) requests
// of one key per turn (about what 50 connections give one ingest-api under load), LIMITS_CPU_ROUNDS (3) rounds of
// both variants, alternating: "per turn" (RATE_LEASE_MS=0, USAGE_FLUSH_MS=0: one rate-limit call and one usage
// call per turn) and "leased" (leased tokens at the defaults, usage flushed every 100 ms).
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { RateLimiter, type LeaseOptions } from '@central-logger/limits';
import { UsageCounter } from '@central-logger/usage';
import { freePort } from './processes.js';

const TURNS = Number(process.env.LIMITS_CPU_TURNS ?? 4000);
const PER_TURN = Number(process.env.LIMITS_CPU_PER_TURN ?? 8);
const ROUNDS = Number(process.env.LIMITS_CPU_ROUNDS ?? 3);
// as bench:ingest sets them: high, so that nothing is refused
const LIMITS = {
  requestsPerSecond: 1e6,
  requestBurst: 1e6,
  eventsPerSecond: 1e8,
  eventBurst: 1e8,
  tenantEventsPerSecond: 1e8,
  tenantEventBurst: 1e8,
  eventsPerDay: 1e12,
};

interface Variant {
  name: string;
  lease: LeaseOptions;
  usageFlushMs: number;
}
const VARIANTS: Variant[] = [
  { name: 'per turn (RATE_LEASE_MS=0, USAGE_FLUSH_MS=0)', lease: { ms: 0, share: 0 }, usageFlushMs: 0 },
  { name: 'leased (RATE_LEASE_MS=250, RATE_LEASE_SHARE=0.1, USAGE_FLUSH_MS=100)', lease: { ms: 250, share: 0.1 }, usageFlushMs: 100 },
];

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const value = (k: string) => Number(new RegExp(`${k}:(\\S+)`).exec(info)?.[1] ?? 0);
  return value('used_cpu_user') + value('used_cpu_sys');
}

async function run(redis: Redis, v: Variant, round: number): Promise<{ node: number; redis: number; calls: number }> {
  let calls = 0;
  const counted = Object.assign(Object.create(redis) as Redis, {
    sendCommand: (command: { name: string }) => {
      if (command.name === 'evalsha' || command.name === 'eval') calls++;
      return redis.sendCommand(command as never);
    },
  });
  const prefix = `{limits-cpu-${round}-${v.lease.ms}}`;
  const limiter = new RateLimiter(counted, prefix, undefined, v.lease);
  const usage = new UsageCounter(counted, prefix, Date.now, v.usageFlushMs);
  const redisBefore = await redisCpuSeconds(redis);
  const cpuBefore = process.cpuUsage();
  for (let t = 0; t < TURNS; t++) {
    const turn: Array<Promise<unknown>> = [];
    for (let i = 0; i < PER_TURN; i++) {
      turn.push(limiter.take({ clientId: 'bench-client', keyId: 'key_bench', events: 1, limits: LIMITS }));
      usage.record({ subject: { keyId: 'key_bench' }, address: '127.0.0.1', bytes: 200, eventsAccepted: 1, authFailure: false, rateLimited: false });
    }
    await Promise.all(turn);
    await new Promise((r) => setImmediate(r));
  }
  await usage.settled();
  await limiter.close();
  const cpu = process.cpuUsage(cpuBefore);
  const redisCpu = (await redisCpuSeconds(redis)) - redisBefore;
  const n = TURNS * PER_TURN;
  return { node: (cpu.user + cpu.system) / n, redis: (redisCpu * 1e6) / n, calls: calls / n };
}

const port = await freePort();
const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 3, retryStrategy: (n) => (n > 50 ? null : 100) });
try {
  await redis.ping();
  const results = new Map<string, Array<{ node: number; redis: number; calls: number }>>();
  // a warm-up of each, not counted: JIT
  for (const v of VARIANTS) await run(redis, v, -1);
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of VARIANTS) {
      const r = await run(redis, v, round);
      results.set(v.name, [...(results.get(v.name) ?? []), r]);
      console.error(
        `round ${round + 1}, ${v.name}: node ${r.node.toFixed(2)} µs, redis ${r.redis.toFixed(2)} µs, script calls ${r.calls.toFixed(4)} per request`,
      );
    }
  }
  console.log(
    `\nRate limits and usage counting, CPU per request (µs): ${TURNS} turns × ${PER_TURN} requests of one key, ${ROUNDS} rounds alternating; medians\n`,
  );
  console.log('| variant | this process µs | Redis µs | script calls per request |\n| --- | --- | --- | --- |');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [name, rs] of results) {
    console.log(
      `| ${name} | ${median(rs.map((r) => r.node)).toFixed(2)} | ${median(rs.map((r) => r.redis)).toFixed(2)} | ${median(rs.map((r) => r.calls)).toFixed(4)} |`,
    );
  }
} finally {
  redis.disconnect();
  server.kill();
}
