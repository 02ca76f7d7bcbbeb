/**
 * Issue 13 item 4: the nesting bomb. 8 MB of `[` then `]` gzip to about
 * 8 KB; JSON.parse of it blocked the event loop for about 3 s. Four such
 * POSTs at a time, again and again for BENCH_ABUSE_SECONDS (5), against a
 * real ingest-api process; the victim is another tenant: `GET /health` and
 * single-event POSTs, one after another, timed without and with the attack.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { Redis } from 'ioredis';
import { deleteKeysUnder } from '@central-logger/queue';
import { freePort, productionSecrets, startChild, waitHealthy } from '../ingest/processes.js';
import { latencyStats, type AbuseResult, type AbuseScenario } from './scenario.js';

const SECONDS = Number(process.env.BENCH_ABUSE_SECONDS ?? 5);
const DATABASE_URL = process.env.BENCH_DATABASE_URL_ABUSE ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_abuse_nesting';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const AT_ONCE = 4;
// BENCH_NESTING_DEPTH=10000000 lets the bomb past the scan: what JSON.parse of it costs (the state before item 4)
const MAX_METADATA_DEPTH = process.env.BENCH_NESTING_DEPTH ?? '16';

const BOMB = gzipSync(Buffer.concat([Buffer.alloc(4_000_000, '['), Buffer.alloc(4_000_000, ']')]), { level: 9 });

async function agentKey(sql: Sql, id: string): Promise<string> {
  await createClient(sql, id, id);
  return (await createKey(sql, { name: `${id} key`, role: 'agent', clientId: id, bcryptCost: 4 })).key;
}

const post = (url: string, key: string, body: string | Buffer, gzip = false) =>
  fetch(`${url}/api/v1/logs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': key, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
    body,
  });

/** The victim for `seconds`: /health, then a single-event POST, in turn; milliseconds of each, and the answers that were not 2xx. */
async function victim(url: string, key: string, seconds: number): Promise<number[] & { failed: Record<string, number> }> {
  const ms = Object.assign([] as number[], { failed: {} as Record<string, number> });
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const started = performance.now();
    const res =
      i % 2 === 0
        ? await fetch(`${url}/health`)
        : await post(url, key, JSON.stringify({ environment: 'bench', executed_at: new Date().toISOString(), status: 'SUCCESS', message: `victim ${i}` }));
    await res.arrayBuffer();
    if (res.status >= 300) ms.failed[res.status] = (ms.failed[res.status] ?? 0) + 1;
    ms.push(performance.now() - started);
  }
  return ms;
}

// The attacker runs in a process of its own, so its fetches do not slow the victim's client.
const ATTACKER = `
import { gzipSync } from 'node:zlib';
const [url, key, atOnce, seconds] = process.argv.slice(1);
const bomb = gzipSync(Buffer.concat([Buffer.alloc(4_000_000, '['), Buffer.alloc(4_000_000, ']')]), { level: 9 });
const ms = [], statuses = {};
const end = Date.now() + Number(seconds) * 1000;
await Promise.all(Array.from({ length: Number(atOnce) }, async () => {
  while (Date.now() < end) {
    const started = performance.now();
    const res = await fetch(url + '/api/v1/logs', { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-api-key': key }, body: bomb });
    await res.arrayBuffer();
    ms.push(performance.now() - started);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }
}));
process.stdout.write(JSON.stringify({ ms, statuses }));
`;

/** AT_ONCE bombs in flight for `seconds`, from a child process; each refusal's time and status. */
function attack(url: string, key: string, seconds: number): Promise<{ ms: number[]; statuses: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, url, key, String(AT_ONCE), String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`the attacker exited with ${code}`))));
  });
}

export const nestingBomb: AbuseScenario = {
  name: 'nesting bomb (item 4)',
  async run(): Promise<AbuseResult> {
    await dropDatabase(DATABASE_URL);
    await ensureDatabase(DATABASE_URL);
    const sql = createSql(DATABASE_URL, { max: 2, applicationName: 'bench-abuse' });
    await migrate(sql);
    const prefix = `{abuse${randomBytes(3).toString('hex')}}`;
    const port = await freePort();
    const ingest = startChild('ingest-api', 'apps/ingest-api/src/main.ts', {
      ...productionSecrets(),
      DATABASE_URL,
      REDIS_URL,
      LOG_LEVEL: 'warn',
      QUEUE_PREFIX: prefix,
      BCRYPT_COST: '4',
      INGEST_PORT: String(port),
      MAX_METADATA_DEPTH,
      INGEST_METRICS_PORT: String(await freePort()),
      // the victim's own rate limit must not be what it measures
      RATE_KEY_REQUESTS_PER_SECOND: '100000',
      RATE_KEY_REQUEST_BURST: '100000',
      // nor backpressure: no worker drains the victim's jobs here, and past the default 2,000 waiting jobs every
      // request, bombs included, was answered 503 before its body was read (seen once the victim got that fast)
      MAX_QUEUE_BACKLOG_JOBS: '1000000',
      MAX_BULK_BACKLOG_JOBS: '750000',
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitHealthy(`${url}/health`);
      const [attackerKey, victimKey] = [await agentKey(sql, 'attacker'), await agentKey(sql, 'victim')];
      await victim(url, victimKey, 1); // warm-up: key cache, JIT
      const without = await victim(url, victimKey, SECONDS);
      const cpuBefore = ingest.cpuSeconds();
      const attacking = attack(url, attackerKey, SECONDS + 1);
      await new Promise((r) => setTimeout(r, 500)); // the attacker's start-up
      const withAttack = await victim(url, victimKey, SECONDS);
      const bombs = await attacking;
      const cpu = ingest.cpuSeconds() - cpuBefore; // the whole attack, victim requests included
      const refusal = latencyStats(bombs.ms);
      return {
        name: `nesting bomb (item 4)${MAX_METADATA_DEPTH === '16' ? '' : `, MAX_METADATA_DEPTH=${MAX_METADATA_DEPTH}`}`,
        victimMeasures: 'another tenant: GET /health and single-event POSTs, in turn',
        without: latencyStats(without),
        with: latencyStats(withAttack),
        notes: [
          `attack: ${AT_ONCE} at a time, ${bombs.ms.length} POSTs of ${BOMB.length} B gzip (8,000,000 B of brackets) in ${SECONDS + 1} s, from a process of its own; answers ${JSON.stringify(bombs.statuses)}`,
          `victim answers that were not 2xx: without ${JSON.stringify(without.failed)}, with ${JSON.stringify(withAttack.failed)}`,
          `refusal time per bomb (client side, ${AT_ONCE} in flight): p50 ${refusal.p50Ms.toFixed(1)} ms, p99 ${refusal.p99Ms.toFixed(1)} ms, max ${refusal.maxMs.toFixed(1)} ms`,
          `ingest-api CPU during the attack: ${cpu.toFixed(2)} s in ${SECONDS + 1} s, about ${((cpu * 1000) / Math.max(1, bombs.ms.length)).toFixed(2)} ms a bomb (victim requests included)`,
        ],
      };
    } finally {
      await ingest.stop();
      await sql.end({ timeout: 5 });
      await dropDatabase(DATABASE_URL).catch(() => {});
      const redis = new Redis(REDIS_URL);
      await deleteKeysUnder(redis, prefix).finally(() => redis.disconnect());
    }
  },
};
