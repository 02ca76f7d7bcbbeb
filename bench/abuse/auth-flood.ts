/**
 * Issue 13 item 2: 600 well-formed keys carrying one tenant's public prefix
 * and wrong secrets, sent at once from 600 addresses (TRUST_PROXY with
 * X-Forwarded-For), against a real ingest-api process with bcrypt cost 10.
 * The victim: other tenants' first requests, each with a fresh key no process
 * has verified, sent while the flood is in flight. Before the fix every flood
 * request ran bcrypt and the victim waited ~40 s behind them.
 *
 * Knobs: AUTH_FLOOD_N (600), AUTH_FLOOD_VICTIMS (20), BCRYPT_COST (10).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey, withChecksum } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { freePort, startChild, waitHealthy } from '../ingest/processes.js';
import { latencyStats, type AbuseScenario } from './scenario.js';

const FLOOD = Number(process.env.AUTH_FLOOD_N ?? 600);
const VICTIMS = Number(process.env.AUTH_FLOOD_VICTIMS ?? 20);
const BCRYPT_COST = Number(process.env.BCRYPT_COST ?? 10);
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Answer {
  status: number;
  ms: number;
}

async function heartbeat(base: string, key: string, address: string): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}/api/v1/heartbeat`, {
    method: 'POST',
    headers: { 'x-api-key': key, 'x-forwarded-for': address, 'content-type': 'application/json' },
    body: '{}',
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

/** bcrypt compares the process has run, from its /metrics listener. */
async function compares(metricsBase: string): Promise<number> {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  const m = /^auth_bcrypt_compares(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

// The attacker: every key at once, each from an address of its own (TRUST_PROXY), in a child process.
const ATTACKER = `
const [base, keys] = [process.argv[1], JSON.parse(process.argv[2])];
const answers = await Promise.all(keys.map(async (key, i) => {
  const started = performance.now();
  try {
    const res = await fetch(base + '/api/v1/heartbeat', { method: 'POST', headers: { 'x-api-key': key, 'x-forwarded-for': '10.' + ((i >> 16) & 255) + '.' + ((i >> 8) & 255) + '.' + (i & 255), 'content-type': 'application/json' }, body: '{}' });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - started };
  } catch {
    return { status: 0, ms: NaN };
  }
}));
process.stdout.write(JSON.stringify(answers));
`;

function attack(base: string, keys: string[]): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, base, JSON.stringify(keys)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Answer[]) : reject(new Error(`the attacker exited with ${code}`))));
  });
}

/** `n` fresh keys of fresh tenants, never used. */
async function freshKeys(sql: Sql, n: number, tag: string): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const client = `victim_${tag}_${i}`;
    await createClient(sql, client, client);
    keys.push((await createKey(sql, { name: 'k', role: 'agent', clientId: client, bcryptCost: BCRYPT_COST })).key);
  }
  return keys;
}

/** A well-formed key for `prefix` with a random (wrong) secret. */
function wrongSecret(prefix: string): string {
  return withChecksum(`${prefix}_${randomBytes(32).toString('base64url').replace(/[-_]/g, 'x').slice(0, 43)}`);
}

/** Victims' first requests, one every 100 ms (slower than bcrypt's rate, so they do not queue behind each other), each from its own address. */
async function victims(base: string, keys: string[], tag: string): Promise<Answer[]> {
  return Promise.all(
    keys.map(async (key, i) => {
      await new Promise((r) => setTimeout(r, i * 100));
      return heartbeat(base, key, `192.0.2.${tag === 'with' ? 100 + i : i}`);
    }),
  );
}

export const authFlood: AbuseScenario = {
  name: 'auth flood (wrong keys from many addresses)',
  async run() {
    const dbUrl = `${PG}/cl_bench_auth_flood_${process.pid}`;
    const prefix = `{bench${randomBytes(3).toString('hex')}}`;
    await ensureDatabase(dbUrl);
    const sql = createSql(dbUrl, { max: 2 });
    const [port, metricsPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const metricsBase = `http://127.0.0.1:${metricsPort}`;
    const child = startChild('ingest-api', 'apps/ingest-api/src/main.ts', {
      DATABASE_URL: dbUrl,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      INGEST_PORT: String(port),
      INGEST_METRICS_PORT: String(metricsPort),
      TRUST_PROXY: 'true',
      BCRYPT_COST: String(BCRYPT_COST),
    });
    try {
      await migrate(sql);
      await createClient(sql, 'flooded', 'flooded');
      const flooded = await createKey(sql, { name: 'k', role: 'agent', clientId: 'flooded', bcryptCost: BCRYPT_COST });
      const [before, during, warm] = [await freshKeys(sql, VICTIMS, 'a'), await freshKeys(sql, VICTIMS, 'b'), await freshKeys(sql, 5, 'w')];
      await waitHealthy(`${base}/health`);
      // a process's first requests pay for JIT and pool connections: not what is measured
      for (const key of warm) await heartbeat(base, key, '192.0.2.250');
      await Promise.all(Array.from({ length: FLOOD }, (_, i) => heartbeat(base, 'clk_not_a_key', `172.16.${i >> 8}.${i & 255}`).catch(() => undefined)));

      const without = await victims(base, before, 'without');
      const comparesBefore = await compares(metricsBase);
      // 600 attack requests at once, from a process of their own (an attacker is another machine: its
      // 600 connections must not slow the victims' client); the victims start at the same moment
      const started = performance.now();
      const flood = attack(
        base,
        Array.from({ length: FLOOD }, () => wrongSecret(flooded.record.prefix)),
      );
      const withAttack = await victims(base, during, 'with');
      const floodAnswers = await flood;
      const floodMs = performance.now() - started;
      const comparesDuring = (await compares(metricsBase)) - comparesBefore;
      const count = (s: number) => floodAnswers.filter((a) => a.status === s).length;
      return {
        name: this.name,
        victimMeasures: "another tenant's first request with a fresh (uncached) key",
        without: latencyStats(without.map((a) => a.ms)),
        with: latencyStats(withAttack.map((a) => a.ms)),
        notes: [
          `${FLOOD} wrong-secret keys for one prefix at once from ${FLOOD} addresses, all answered within ${Math.round(floodMs)} ms; bcrypt cost ${BCRYPT_COST}`,
          `flood answers: ${floodAnswers.length}: ${count(429)} × 429, ${count(401)} × 401, ${floodAnswers.length - count(429) - count(401)} other; flood p99 ${Math.round(latencyStats(floodAnswers.map((a) => a.ms)).p99Ms)} ms`,
          `bcrypt compares during the attack (victims' included): ${comparesDuring} (${VICTIMS} victims)`,
          `victim statuses: ${[...new Set(withAttack.map((a) => a.status))].join(', ')}`,
        ],
      };
    } finally {
      await child.stop();
      await sql.end();
      await dropDatabase(dbUrl);
      const redis = new Redis(REDIS_URL);
      await deleteKeysUnder(redis, prefix).finally(() => redis.disconnect());
    }
  },
};
