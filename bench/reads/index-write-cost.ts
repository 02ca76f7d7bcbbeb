/**
 * What carrying `level` in the time index (migration 190) costs the worker's
 * INSERT: the same insertLogs statements (1,000 rows each) into a table with
 * the index as before (A: no INCLUDE) and as now (B: INCLUDE (level)),
 * alternated, measuring the CPU of the inserting Postgres backend only
 * (/proc/<pid>/stat), so that other work on the machine does not count.
 *
 *   npx tsx --conditions=central-logger-source bench/reads/index-write-cost.ts [--rounds 4] [--statements 30]
 *     [--url postgres://postgres@127.0.0.1:5432/central_logger_bench_index_cost]
 *
 * Needs Postgres on this machine (it reads the backend's /proc entry). Drops its database after.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createSql, dropDatabase, ensureDatabase, insertLogs, migrate, type LogRow } from '@central-logger/db';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    statements: { type: 'string', default: '30' },
    url: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/central_logger_bench_index_cost' },
  },
});
const ROWS = 1000;
const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'] as const;
const INDEX = {
  A: 'create index workflow_logs_client_time_idx on workflow_logs (client_id, executed_at desc, event_id desc)',
  B: 'create index workflow_logs_client_time_idx on workflow_logs (client_id, executed_at desc, event_id desc) include (level)',
};

let batch = 0;
const rowsOf = (): LogRow[] => {
  batch++;
  const now = Date.now();
  return Array.from({ length: ROWS }, (_, i) => ({
    client_id: `tenant_${i % 50}`,
    event_id: `evt_${batch}_${i}`,
    received_at: new Date(now).toISOString(),
    executed_at: new Date(now - Math.random() * 3_600_000).toISOString(),
    environment: 'prod',
    status: 'SUCCESS',
    workflow: `wf-${i % 20}`,
    run_id: null,
    level: LEVELS[i % LEVELS.length]!,
    message: `processed order ${batch * ROWS + i} for customer c-${i} in ${i % 900} ms`,
    duration_ms: i % 5000,
    metadata: { region: 'eu', attempt: i % 5 },
  }));
};

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (100 Hz) → ms
}

const url = args.url!;
await dropDatabase(url);
await ensureDatabase(url);
const sql = createSql(url, { max: 1, applicationName: 'bench-index-cost' });
try {
  await migrate(sql);
  for (let t = 0; t < 50; t++) await sql`insert into clients (id, name) values (${`tenant_${t}`}, 'bench')`;
  const [{ pid }] = (await sql`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
  const results: Record<'A' | 'B', number[]> = { A: [], B: [] };
  console.log(
    `load average before: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const v of round % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const)) {
      await sql`drop index workflow_logs_client_time_idx`;
      await sql.unsafe(INDEX[v]);
      await insertLogs(sql, rowsOf()); // warm-up
      const batches = Array.from({ length: Number(args.statements) }, rowsOf);
      const before = cpuMs(pid);
      for (const rows of batches) await insertLogs(sql, rows);
      results[v].push((cpuMs(pid) - before) / Number(args.statements));
    }
  }
  console.log(
    `load average after: ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' ')}`,
  );
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const v of ['A', 'B'] as const) {
    console.log(
      `${v} (${INDEX[v].slice(INDEX[v].indexOf('('))}): backend CPU per 1,000 rows ${results[v].map((x) => x.toFixed(1)).join(', ')} ms; median ${median(results[v]).toFixed(1)} ms`,
    );
  }
  console.log(`B / A (medians): ${(median(results.B) / median(results.A)).toFixed(3)}`);
} finally {
  await sql.end();
  await dropDatabase(url);
}
