/**
 * Live tail benchmark (GET /api/v1/logs/tail), against a real ingest-api
 * and worker (child processes, production mode) on its own database:
 *
 *  1. delivery latency at --rate events/s (default 1,000) to one tail:
 *     from the INSERT that stored an event (its stored_at, the transaction's
 *     start, so an upper bound of "from commit") and from its 202, to the
 *     moment its SSE message is read here; p50/p99.
 *  2. CPU of ingest-api (and worker, Postgres) at --load events/s (default
 *     5,000) of one tenant for --seconds, with no tail, with 200 idle tails
 *     of other tenants, and with 200 tails of that tenant whose filter
 *     matches nothing (each of its commits makes every one of them read).
 *
 *   npm run bench:tail -- [--rate 1000] [--load 5000] [--tails 200] [--seconds 30]
 *
 * CPU seconds are steadier than wall-clock figures on a shared machine, but
 * still noisy: compare the rows of one run, and note `uptime`.
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createClient, createSql, dropDatabase, ensureDatabase, migrate, type Sql } from '@central-logger/db';
import { createKey } from '@central-logger/keys';
import { deleteKeysUnder } from '@central-logger/queue';
import { SseParser } from '@central-logger/tail/sse';
import { commandMeter, freePort, productionSecrets, startChild, waitHealthy, type Child, type CpuMeter, UNLIMITED_RATES } from '../ingest/processes.js';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    load: { type: 'string', default: '5000' },
    tails: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
  },
});
const RATE = Number(args.rate);
const LOAD = Number(args.load);
const TAILS = Number(args.tails);
const SECONDS = Number(args.seconds);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/central_logger_bench_tail';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TICK_MS = 50;

interface Tenant {
  clientId: string;
  writer: string;
  reader: string;
}

async function tenant(sql: Sql, clientId: string): Promise<Tenant> {
  await createClient(sql, clientId, clientId);
  const key = async (role: 'agent' | 'reader') => (await createKey(sql, { name: role, role, clientId, bcryptCost: 4 })).key;
  return { clientId, writer: await key('agent'), reader: await key('reader') };
}

/** Posts `perSecond` events of `t` for `seconds`, a request every TICK_MS; returns each request's accepted ids with the time of its 202. */
async function drive(url: string, t: Tenant, perSecond: number, seconds: number, extra: Record<string, unknown> = {}): Promise<Map<string, number>> {
  const perTick = Math.max(1, Math.round((perSecond * TICK_MS) / 1000));
  const accepted = new Map<string, number>();
  const statuses: Record<string, number> = {};
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let tick = 0; performance.now() - start < seconds * 1000; tick++) {
    const body = JSON.stringify(
      Array.from({ length: perTick }, (_, i) => ({
        environment: 'bench',
        executed_at: new Date().toISOString(),
        status: 'SUCCESS',
        workflow: 'tail',
        level: 'info',
        message: `event ${tick}.${i}`,
        ...extra,
      })),
    );
    const p = fetch(`${url}/api/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': t.writer }, body })
      .then(async (res) => {
        const at = Date.now();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const json = (await res.json()) as { ids?: string[] };
        for (const id of json.ids ?? []) accepted.set(id, at);
      })
      .catch(() => {
        statuses.failed = (statuses.failed ?? 0) + 1;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    const next = start + (tick + 1) * TICK_MS;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await Promise.all(inFlight);
  console.error(`  ${perSecond} events/s × ${seconds} s: answers ${JSON.stringify(statuses)}`);
  return accepted;
}

/** An open tail; `received` maps each event id to when its message was read here. */
function openTail(url: string, key: string, params = '') {
  const abort = new AbortController();
  const received = new Map<string, number>();
  const opened = fetch(`${url}/api/v1/logs/tail${params}`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal }).then((res) => {
    if (res.status !== 200) throw new Error(`tail answered ${res.status}`);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let resolveFirst!: () => void;
    const first = new Promise<void>((r) => (resolveFirst = r));
    void (async () => {
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          const now = Date.now();
          for (const m of parser.push(decoder.decode(chunk, { stream: true }))) {
            resolveFirst();
            if (m.event === 'message' && m.data) received.set((JSON.parse(m.data) as { event_id: string }).event_id, now);
          }
        }
      } catch {
        // closed
      }
    })();
    return first;
  });
  return { opened, received, close: () => abort.abort() };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function latency(sql: Sql, url: string, t: Tenant): Promise<string[]> {
  const tail = openTail(url, t.reader);
  await tail.opened;
  const accepted = await drive(url, t, RATE, SECONDS);
  const deadline = Date.now() + 30_000;
  while (tail.received.size < accepted.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  tail.close();
  const stored = await sql`select event_id, (extract(epoch from stored_at) * 1000)::float8 as at from workflow_logs where client_id = ${t.clientId}`;
  const fromInsert: number[] = [];
  const from202: number[] = [];
  for (const r of stored) {
    const got = tail.received.get(r.event_id as string);
    if (got === undefined) continue;
    fromInsert.push(got - (r.at as number));
    const acc = accepted.get(r.event_id as string);
    if (acc !== undefined) from202.push(got - acc);
  }
  return [
    `delivery at ${RATE} events/s for ${SECONDS} s: ${accepted.size} accepted, ${stored.length} stored, ${tail.received.size} received by the tail`,
    `  INSERT start (stored_at) → SSE read: p50 ${pct(fromInsert, 50).toFixed(0)} ms, p99 ${pct(fromInsert, 99).toFixed(0)} ms, max ${Math.max(...fromInsert).toFixed(0)} ms`,
    `  202 → SSE read:                      p50 ${pct(from202, 50).toFixed(0)} ms, p99 ${pct(from202, 99).toFixed(0)} ms`,
  ];
}

async function cpuRun(name: string, url: string, t: Tenant, meters: CpuMeter[], open: ReadonlyArray<() => ReturnType<typeof openTail>>): Promise<string> {
  // one after the other: a burst of first uses of one key would meet the verifier's in-flight bound (429)
  const tails: Array<ReturnType<typeof openTail>> = [];
  for (const o of open) {
    const x = o();
    await x.opened;
    tails.push(x);
  }
  const before = meters.map((m) => m.cpuSeconds());
  const accepted = await drive(url, t, LOAD, SECONDS);
  const cpu = meters.map((m, i) => m.cpuSeconds() - before[i]!);
  for (const x of tails) x.close();
  const received = tails.reduce((n, x) => n + x.received.size, 0);
  await new Promise((r) => setTimeout(r, 2_000));
  return `${name.padEnd(44)} ${String(accepted.size).padStart(8)} ${cpu.map((c) => c.toFixed(1).padStart(8)).join(' ')} ${String(received).padStart(9)}`;
}

async function main(): Promise<void> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const sql = createSql(DATABASE_URL, { max: 4, applicationName: 'bench-tail' });
  await migrate(sql);
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 3)`;
  const measured = await tenant(sql, 'bench-latency');
  const loud = await tenant(sql, 'bench-loud');
  const idle: Tenant[] = [];
  for (let i = 0; i < 20; i++) idle.push(await tenant(sql, `bench-idle-${i}`));

  const [port, metricsPort, ingestMetricsPort] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...productionSecrets(),
    DATABASE_URL,
    REDIS_URL,
    LOG_LEVEL: 'warn',
    QUEUE_PREFIX: `{benchtail${randomBytes(3).toString('hex')}}`,
    INGEST_PORT: String(port),
    WORKER_METRICS_PORT: String(metricsPort),
    INGEST_METRICS_PORT: String(ingestMetricsPort),
    MAX_TAILS_PER_KEY: '1000',
    MAX_TAILS_PER_CLIENT: '1000',
    ...UNLIMITED_RATES,
  };
  const children: Child[] = [startChild('ingest-api', 'apps/ingest-api/src/main.ts', env), startChild('worker', 'apps/worker/src/main.ts', env)];
  const meters: CpuMeter[] = [...children, commandMeter('postgres', 'postgres')];
  const lines: string[] = [];
  try {
    const url = `http://127.0.0.1:${port}`;
    // a loaded machine starts tsx processes slowly
    await Promise.all([waitHealthy(`${url}/health`, 120_000), waitHealthy(`http://127.0.0.1:${metricsPort}/health`, 120_000)]);
    console.error(`latency: ${RATE} events/s × ${SECONDS} s …`);
    lines.push(...(await latency(sql, url, measured)));
    lines.push('', `CPU seconds over ${SECONDS} s at ${LOAD} events/s of one tenant:`);
    lines.push(`${'scenario'.padEnd(44)} ${'accepted'.padStart(8)} ${meters.map((m) => m.name.padStart(8)).join(' ')} ${'tail msgs'.padStart(9)}`);
    const other = Array.from({ length: TAILS }, (_, i) => () => openTail(url, idle[i % idle.length]!.reader));
    const sameFiltered = Array.from({ length: TAILS }, () => () => openTail(url, loud.reader, '?workflow=nothing-matches'));
    for (const [name, open] of [
      ['no tail', []],
      [`${TAILS} idle tails of other tenants`, other],
      ['no tail (again)', []],
      [`${TAILS} tails of that tenant, filter matching none`, sameFiltered],
    ] as const) {
      console.error(`${name} …`);
      lines.push(await cpuRun(name, url, loud, meters, open));
    }
  } finally {
    for (const c of children) await c.stop();
    const redis = new Redis(REDIS_URL);
    await deleteKeysUnder(redis, env.QUEUE_PREFIX).finally(() => redis.disconnect());
    await sql.end();
  }
  console.log(lines.join('\n'));
  console.log(
    `\nload average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  await dropDatabase(DATABASE_URL);
}

await main();
