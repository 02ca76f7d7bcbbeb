/**
 * Read-path benchmark: loads N rows across T tenants by COPY into its own
 * database, then times the queries the API runs (the same functions, as the
 * row-level-security read role) and prints p50/p95 beside each target, the
 * baseline, the load average, and each EXPLAIN.
 *
 *   npx tsx --conditions=central-logger-source bench/reads/run.ts [--rows 5000000] [--tenants 50] [--iterations 200] [--keep] [--reuse]
 *     [--url postgres://postgres@127.0.0.1:5432/central_logger_bench_reads]
 *
 * --keep leaves the database for another run; --reuse skips the load when it
 * is there and measures as of the time it was loaded, so each window (24 h,
 * 7 days) holds as many rows as in a fresh run.
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
  pageSlices,
  readerUrl,
  signTenantsOn,
  statsQuery,
  withTenant,
  type Sql,
} from '@central-logger/db';
import { parseHistogramQuery, type LogFilter } from '@central-logger/events';
import { loadRows } from './load.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '5000000' },
    tenants: { type: 'string', default: '50' },
    iterations: { type: 'string', default: '200' },
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

/** Loads the rows unless --reuse finds them; returns the instant they were loaded at (the clients are created then). */
async function prepare(url: string): Promise<number> {
  const owner = createSql(url, { max: 2, applicationName: 'bench-reads' });
  try {
    await migrate(owner);
    const [loaded] = args.reuse ? await owner`select count(*)::int as n, max(created_at) as at from clients where id like 'bench%'` : [{ n: 0, at: null }];
    if (loaded!.n > 0) {
      console.log(`reusing the database loaded at ${(loaded!.at as Date).toISOString()}`);
      return (loaded!.at as Date).getTime();
    }
    const started = Date.now();
    await loadRows(owner, { rows: ROWS, tenants: TENANTS, tenantId, now: started });
    return started;
  } finally {
    await owner.end();
  }
}

interface Case {
  name: string;
  /** p95 target in ms; undefined for the baseline and figures kept for comparison. */
  target?: number;
  run(sql: Sql, clientId: string, now: number): Promise<unknown>;
  explain(sql: Sql, clientId: string, now: number): Promise<string[]>;
}

const explainOf = (sql: Sql, c: string, query: (tx: Parameters<Parameters<typeof withTenant>[2]>[0]) => ReturnType<typeof logsQuery>) =>
  withTenant(sql, c, async (tx) => (await tx`explain (analyze, costs off, timing off, summary on) ${query(tx)}`).map((r) => r['QUERY PLAN'] as string));

const pageCase = (name: string, target: number | undefined, filter: (now: number) => LogFilter): Case => ({
  name,
  target,
  run: (sql, c, now) => findLogs(sql, c, filter(now), { limit: 100, now }),
  // the plan of each time slice findLogs reads, newest first, until the page is full (see pageSlices)
  explain: async (sql, c, now) => {
    const out: string[] = [];
    let found = 0;
    for (const slice of pageSlices(filter(now), undefined, now)) {
      const plan = await explainOf(sql, c, (tx) => logsQuery(tx, c, slice, { limit: 101 - found }));
      out.push(`-- slice ${slice.from?.toISOString() ?? '…'} to ${slice.to?.toISOString() ?? '…'}`, ...plan);
      found += Number(/rows=(\d+)/.exec(plan[0]!)?.[1] ?? 0);
      if (found >= 101) break;
    }
    return out;
  },
});

/** The same page read by one query over the whole range, as before time slices: the A of an A/B in every run. */
const unslicedCase = (name: string, filter: (now: number) => LogFilter): Case => ({
  name,
  run: (sql, c, now) => withTenant(sql, c, (tx) => logsQuery(tx, c, filter(now), { limit: 101 })),
  explain: async () => [],
});

/** What the console asks for: `from`/`to` and interval auto, parsed as the route parses them. */
const histogramCase = (name: string, target: number, rangeMs: number): Case => {
  const query = (now: number) => parseHistogramQuery({ from: new Date(now - rangeMs).toISOString(), to: new Date(now).toISOString() }, now);
  return {
    name,
    target,
    run: (sql, c, now) => {
      const q = query(now);
      return logHistogram(sql, c, q.filter, q.intervalMs);
    },
    explain: (sql, c, now) => {
      const q = query(now);
      return explainOf(sql, c, (tx) => histogramQuery(tx, c, q.filter, q.intervalMs));
    },
  };
};

const CASES: Case[] = [
  {
    // the floor on this machine right now: transaction, tenant setting, a trivial query, commit
    name: 'baseline: tenant transaction, select 1',
    run: (sql, c) => withTenant(sql, c, (tx) => tx`select 1`),
    explain: async () => [],
  },
  pageCase('newest 100', 10, () => ({})),
  pageCase('status=FAILURE, last 24 h', 100, (now) => ({ status: 'FAILURE', from: new Date(now - DAY), to: new Date(now) })),
  pageCase('q=mismatch', 25, () => ({ q: 'mismatch' })),
  unslicedCase('newest 100, one query over every partition (before)', () => ({})),
  unslicedCase('q=mismatch, one query over every partition (before)', () => ({ q: 'mismatch' })),
  histogramCase('histogram, 24 h (auto: by hour)', 50, DAY),
  histogramCase('histogram, 7 days (auto: by day)', 150, 7 * DAY),
  {
    name: 'stats by day, 30 days',
    target: 30,
    run: (sql, c, now) => logStats(sql, c, { from: new Date(now - 30 * DAY), to: new Date(now) }, 'day'),
    explain: (sql, c, now) => explainOf(sql, c, (tx) => statsQuery(tx, c, { from: new Date(now - 30 * DAY), to: new Date(now) }, 'day')),
  },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

/**
 * Runs every case once per round, in a new random order each round, so that
 * a burst of other work on the machine lands on all of them alike.
 */
async function measure(reader: Sql, now: number): Promise<void> {
  console.log(`load average before: ${load()} (${cpus().length} cores; other work on the machine shows in the baseline)`);
  for (const c of CASES) for (let i = 0; i < 5; i++) await c.run(reader, tenantId(i % TENANTS), now); // warm-up
  const times = new Map<Case, number[]>(CASES.map((c) => [c, []]));
  for (let i = 0; i < ITERATIONS; i++) {
    const order = [...CASES].sort(() => Math.random() - 0.5);
    for (const c of order) {
      const started = performance.now();
      await c.run(reader, tenantId(Math.floor(Math.random() * TENANTS)), now);
      times.get(c)!.push(performance.now() - started);
    }
  }
  console.log(`load average after:  ${load()}\n`);
  console.log(`| query | p50 | p95 | target p95 | |\n| --- | --- | --- | --- | --- |`);
  for (const c of CASES) {
    const t = times.get(c)!.sort((a, b) => a - b);
    const p95 = percentile(t, 95);
    const verdict = c.target === undefined ? '' : p95 <= c.target ? 'met' : '**missed**';
    console.log(
      `| ${c.name} | ${percentile(t, 50).toFixed(1)} ms | ${p95.toFixed(1)} ms | ${c.target === undefined ? '–' : `≤ ${c.target} ms`} | ${verdict} |`,
    );
  }
  console.log(`\n(${ITERATIONS} runs of each, interleaved; a random tenant each run)`);
  for (const c of CASES) {
    const plan = await c.explain(reader, tenantId(7 % TENANTS), now);
    if (plan.length === 0) continue;
    plans.push(`## ${c.name}\n${plan.join('\n')}\n`);
    console.log(
      `\n## ${c.name}\n${summarize(plan)
        .map((l) => `    ${l}`)
        .join('\n')}`,
    );
  }
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/reads-explain.txt', plans.join('\n'));
  console.log('\nfull plans: bench/results/reads-explain.txt');
}

const plans: string[] = [];

/** Each slice's plan (pages), or the one plan, summarized. */
function summarize(plan: string[]): string[] {
  if (!plan[0]?.startsWith('-- slice')) return summarizeOne(plan);
  const out: string[] = [];
  let from = 0;
  for (let i = 1; i <= plan.length; i++) {
    if (i < plan.length && !plan[i]!.startsWith('-- slice')) continue;
    out.push(plan[from]!, ...summarizeOne(plan.slice(from + 1, i)));
    from = i;
  }
  return out;
}

/** The plan's top nodes, then each index used (partitions folded together), then the timings. */
function summarizeOne(plan: string[]): string[] {
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
const loadedAt = await prepare(url);
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
  await measure(reader, loadedAt);
} finally {
  await reader.end();
  if (!args.keep) await dropDatabase(url);
}
