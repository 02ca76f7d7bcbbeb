/**
 * Read-path benchmark: loads N rows across T tenants by COPY into its own
 * database, then times the queries the API runs (the same functions, as the
 * row-level-security read role) and prints p50/p95 and each EXPLAIN.
 *
 *   npx tsx --conditions=central-logger-source bench/reads/run.ts [--rows 5000000] [--tenants 50] [--iterations 100] [--keep] [--reuse]
 *     [--url postgres://postgres@127.0.0.1:5432/central_logger_bench_reads]
 *
 * --keep leaves the database for another run; --reuse skips the load when it is there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  createSql,
  dropDatabase,
  ensureDatabase,
  findLogs,
  histogramQuery,
  logHistogram,
  loadTenantTokenSecret,
  logsQuery,
  logStats,
  migrate,
  readerUrl,
  signTenantsOn,
  statsQuery,
  withTenant,
  type Sql,
} from '@central-logger/db';
import type { LogFilter } from '@central-logger/events';
import { loadRows } from './load.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '5000000' },
    tenants: { type: 'string', default: '50' },
    iterations: { type: 'string', default: '100' },
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/central_logger_bench_reads' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const TENANTS = Number(args.tenants);
const ITERATIONS = Number(args.iterations);
const DAY = 86_400_000;
const tenantId = (i: number) => `bench_${String(i).padStart(3, '0')}`;

async function prepare(url: string): Promise<void> {
  const owner = createSql(url, { max: 2, applicationName: 'bench-reads' });
  try {
    await migrate(owner);
    const [loaded] = args.reuse ? await owner`select count(*)::int as n from clients where id like 'bench%'` : [{ n: 0 }];
    if (loaded!.n > 0) {
      console.log('reusing the loaded database');
      return;
    }
    await loadRows(owner, { rows: ROWS, tenants: TENANTS, tenantId });
  } finally {
    await owner.end();
  }
}

interface Case {
  name: string;
  target: number;
  run(sql: Sql, clientId: string, now: number): Promise<unknown>;
  explain(sql: Sql, clientId: string, now: number): Promise<string[]>;
}

const pageCase = (name: string, target: number, filter: (now: number) => LogFilter): Case => ({
  name,
  target,
  run: (sql, c, now) => findLogs(sql, c, filter(now), { limit: 100 }),
  explain: (sql, c, now) =>
    withTenant(sql, c, async (tx) =>
      (await tx`explain (analyze, costs off, timing off, summary on) ${logsQuery(tx, c, filter(now), { limit: 101 })}`).map((r) => r['QUERY PLAN'] as string),
    ),
});

const CASES: Case[] = [
  {
    // the floor on this machine right now: transaction, tenant setting, a trivial query, commit
    name: 'baseline: tenant transaction, select 1',
    target: Infinity,
    run: (sql, c) => withTenant(sql, c, (tx) => tx`select 1`),
    explain: async () => [],
  },
  pageCase('newest 100', 20, () => ({})),
  pageCase('status=FAILURE, last 24 h', 100, (now) => ({ status: 'FAILURE', from: new Date(now - DAY), to: new Date(now) })),
  pageCase('q=mismatch', 100, () => ({ q: 'mismatch' })),
  {
    name: 'stats by day, 30 days',
    target: 100,
    run: (sql, c, now) => logStats(sql, c, { from: new Date(now - 30 * DAY), to: new Date(now) }, 'day'),
    explain: (sql, c, now) =>
      withTenant(sql, c, async (tx) =>
        (await tx`explain (analyze, costs off, timing off, summary on) ${statsQuery(tx, c, { from: new Date(now - 30 * DAY), to: new Date(now) }, 'day')}`).map(
          (r) => r['QUERY PLAN'] as string,
        ),
      ),
  },
  {
    // what the console's chart asks for by default: interval auto = 1h over 24 h, split by level
    name: 'histogram, 24 h by hour',
    target: 100,
    run: (sql, c, now) => logHistogram(sql, c, { from: new Date(now - DAY), to: new Date(now) }, 3_600_000),
    explain: (sql, c, now) =>
      withTenant(sql, c, async (tx) =>
        (
          await tx`explain (analyze, costs off, timing off, summary on) ${histogramQuery(tx, c, { from: new Date(now - DAY), to: new Date(now) }, 3_600_000)}`
        ).map((r) => r['QUERY PLAN'] as string),
      ),
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(reader: Sql): Promise<void> {
  const now = Date.now();
  console.log(
    `load average: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')} (${cpus().length} cores; other work on the machine shows in the baseline)`,
  );
  for (const c of CASES) {
    for (let i = 0; i < 5; i++) await c.run(reader, tenantId(i % TENANTS), now); // warm-up
    const times: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const started = performance.now();
      await c.run(reader, tenantId(Math.floor(Math.random() * TENANTS)), now);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const p95 = percentile(times, 95);
    console.log(
      `\n## ${c.name}: p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms (${c.target === Infinity ? 'no target' : `target p95 < ${c.target} ms: ${p95 < c.target ? 'met' : 'MISSED'}`}; ${ITERATIONS} runs)`,
    );
    const plan = await c.explain(reader, tenantId(7 % TENANTS), now);
    plans.push(`## ${c.name}\n${plan.join('\n')}\n`);
    console.log(
      summarize(plan)
        .map((l) => `    ${l}`)
        .join('\n'),
    );
  }
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/reads-explain.txt', plans.join('\n'));
  console.log('\nfull plans: bench/results/reads-explain.txt');
}

const plans: string[] = [];

/** The plan's top nodes, then each index used (partitions folded together), then the timings. */
function summarize(plan: string[]): string[] {
  const firstPartition = plan.findIndex((l) => /workflow_logs_(p\d{8}|default)/.test(l));
  const top = plan.slice(0, firstPartition < 0 ? plan.length : Math.min(firstPartition, 6)).filter((l) => !/One-Time Filter/.test(l));
  const used = new Map<string, number>();
  for (const l of plan) {
    const m = /(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: Backward)?(?: using| on) (\S+)/.exec(l);
    if (m) {
      const key = `${m[1]} ${m[2]!.replace(/_p\d{8}_/, '_p<day>_')}`;
      used.set(key, (used.get(key) ?? 0) + 1);
    }
  }
  const times = plan.filter((l) => /^(Planning|Execution) Time/.test(l.trim()));
  return [...top, ...[...used].map(([k, n]) => `  ${k} (${n} partition${n > 1 ? 's' : ''})`), ...times];
}

const url = args.url!;
if (!args.reuse) await dropDatabase(url);
await ensureDatabase(url);
await prepare(url);
const reader = createSql(readerUrl(url), { max: 1, applicationName: 'bench-reads-reader' });
// as ingest-api does (migration 091): each read transaction's tenant is signed
signTenantsOn(reader, async () => {
  const owner = createSql(url, { max: 1 });
  try {
    return await loadTenantTokenSecret(owner);
  } finally {
    await owner.end();
  }
});
try {
  await measure(reader);
} finally {
  await reader.end();
  if (!args.keep) await dropDatabase(url);
}
