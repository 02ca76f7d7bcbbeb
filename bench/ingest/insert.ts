/**
 * The worker's INSERT alone: node CPU, Postgres CPU and wall time per row of insertNewLogs
 * (the worker's first try: no ON CONFLICT; insertLogs is its retry),
 * 60 statements of 1,000 rows into the bench database (run
 * `npm run bench:ingest` once first to create it). On demand only:
 * `npx tsx --conditions=central-logger-source bench/ingest/insert.ts`.
 */
import { createSql, insertNewLogs, type LogRow } from '@central-logger/db';
import { commandMeter } from './processes.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_ingest';
const ROWS = 1000;
const STATEMENTS = 60;
const CLIENT = 'bench-insert';

const rowsOf = (batch: number): LogRow[] =>
  Array.from({ length: ROWS }, (_, i) => ({
    client_id: CLIENT,
    event_id: `evt_${batch}_${i}_${Date.now()}`,
    received_at: new Date().toISOString(),
    executed_at: new Date().toISOString(),
    environment: 'bench',
    status: 'SUCCESS',
    workflow: 'wf',
    run_id: null,
    level: 'info',
    message: `bench event ${i}`,
    duration_ms: 12.5,
    metadata: { bench: true, n: i },
  }));

const sql = createSql(DATABASE_URL, { max: 1, applicationName: 'bench-insert' });
try {
  await sql`select ensure_workflow_logs_partitions(current_date - 1, current_date + 1)`;
  const batches = Array.from({ length: STATEMENTS }, (_, b) => rowsOf(b));
  await insertNewLogs(sql, rowsOf(-1));
  const postgres = commandMeter('postgres', 'postgres');
  const pgBefore = postgres.cpuSeconds();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const rows of batches) await insertNewLogs(sql, rows);
  const used = process.cpuUsage(cpu);
  const n = ROWS * STATEMENTS;
  const wall = ((performance.now() - started) * 1000) / n;
  const pg = ((postgres.cpuSeconds() - pgBefore) * 1e6) / n;
  console.log(
    `insertNewLogs: ${((used.user + used.system) / n).toFixed(2)} µs node CPU, ${pg.toFixed(1)} µs Postgres CPU, ${wall.toFixed(2)} µs wall per row (${STATEMENTS} × ${ROWS} rows)`,
  );
} finally {
  await sql`delete from workflow_logs where client_id = ${CLIENT}`;
  await sql.end();
}
