// What usage counting costs on the ingest hot path: one script call (HINCRBYs +
// EXPIRE) per turn of the event loop against the local Redis. Sequential latency, and
// throughput with CONCURRENCY requests in flight, for DURATION_S each.
// Usage: npx tsx --conditions=central-logger-source bench/usage/run.ts   (knobs: DURATION_S=2 CONCURRENCY=10 BENCH_REDIS_URL)
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { UsageCounter, type RequestUsage } from '@central-logger/usage';

const env = process.env; // bench script: not a service, so it reads its knobs directly
const DURATION_MS = Number(env.DURATION_S ?? 2) * 1000;
const CONCURRENCY = Number(env.CONCURRENCY ?? 10);
const redis = new Redis(env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { enableOfflineQueue: false, lazyConnect: true });
await redis.connect();
const prefix = `{bench${randomBytes(4).toString('hex')}}`;
const counter = new UsageCounter(redis, prefix);
const keys = Array.from({ length: 100 }, (_, i) => `key_bench${i}`);
const use = (i: number): RequestUsage => ({
  subject: { keyId: keys[i % keys.length]! },
  address: `10.0.${i % 4}.1`,
  bytes: 2048,
  eventsAccepted: 10,
  authFailure: false,
  rateLimited: false,
});

const latencies: number[] = [];
let until = Date.now() + DURATION_MS;
for (let i = 0; Date.now() < until; i++) {
  const t = performance.now();
  await counter.record(use(i));
  latencies.push(performance.now() - t);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!.toFixed(3);

let done = 0;
until = Date.now() + DURATION_MS;
await Promise.all(
  Array.from({ length: CONCURRENCY }, async (_, w) => {
    for (let i = w; Date.now() < until; i += CONCURRENCY) {
      await counter.record(use(i));
      done++;
    }
  }),
);

console.log(`usage counting, one script call per event-loop turn, load average ${loadavg()[0]!.toFixed(2)} (shared machine)`);
console.log(`  sequential: ${latencies.length} requests, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`);
console.log(`  ${CONCURRENCY} in flight: ${Math.round(done / (DURATION_MS / 1000))} requests/s`);
const stream = redis.scanStream({ match: `${prefix.replace(/[{}]/g, '\\$&')}:*` });
for await (const batch of stream) if ((batch as string[]).length) await redis.del(...(batch as string[]));
redis.disconnect();
