/**
 * Where Postgres spends its CPU per batched row: the same rows written several
 * ways into workflow_logs of a database of its own, in alternation, each
 * statement's Postgres CPU read from its backend's /proc/<pid>/stat (so other
 * work on the machine does not count) and its WAL from pg_stat_wal around it
 * (cluster-wide: other databases' writes add noise). On demand only:
 * `npx tsx --conditions=central-logger-source bench/ingest/pg-cost.ts`.
 * Settings: PG_COST_ROWS (2000 rows a statement), PG_COST_STATEMENTS (20 per
 * variant and round), PG_COST_ROUNDS (3), PG_COST_DATABASE_URL.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createClient, createSql, dropDatabase, ensureDatabase, type LogRow, migrate, type Sql } from '@central-logger/db';
import type { TransactionSql } from 'postgres';

const DATABASE_URL = process.env.PG_COST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/cl_bench_pg_cost';
const ROWS = Number(process.env.PG_COST_ROWS ?? 2000);
const STATEMENTS = Number(process.env.PG_COST_STATEMENTS ?? 20);
const ROUNDS = Number(process.env.PG_COST_ROUNDS ?? 3);
const ONLY = process.env.PG_COST_ONLY?.split(',');
const COLUMNS = 'client_id, event_id, received_at, executed_at, environment, workflow, run_id, status, level, message, duration_ms, metadata';

let seq = 0;
const rowsOf = (client: string): LogRow[] => {
  const at = new Date().toISOString();
  return Array.from({ length: ROWS }, (_, i) => ({
    client_id: client,
    event_id: `evt_${seq++}`,
    received_at: at,
    executed_at: at,
    environment: 'bench',
    status: 'SUCCESS',
    workflow: 'wf',
    run_id: null,
    level: 'info',
    message: `bench event ${i}`,
    duration_ms: 12.5,
    metadata: { bench: true, n: i },
  }));
};

const text = (v: unknown) =>
  v === null || v === undefined ? '\\N' : String(v).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
const copyText = (rows: readonly LogRow[]) =>
  rows
    .map(
      (r) =>
        `${text(r.client_id)}\t${text(r.event_id)}\t${r.received_at}\t${r.executed_at}\t${text(r.environment)}\t${text(r.workflow)}\t${text(r.run_id)}\t${text(r.status)}\t${text(r.level)}\t${text(r.message)}\t${text(r.duration_ms)}\t${text(JSON.stringify(r.metadata))}\n`,
    )
    .join('');

async function copyInto(sql: Sql | TransactionSql, table: string, rows: readonly LogRow[]): Promise<void> {
  const writable = await sql.unsafe(`copy ${table} (${COLUMNS}) from stdin`).writable();
  await pipeline(Readable.from([copyText(rows)]), writable);
}

type Variant = { name: string; write: (sql: Sql, rows: LogRow[]) => Promise<unknown> };
type Fragment = ReturnType<Sql['unsafe']>;
const RECORD = `client_id text, event_id text, received_at timestamptz, executed_at timestamptz, environment text, workflow text, run_id text,
  status text, level text, message text, duration_ms float8, metadata jsonb`;

/** The INSERT of commit d8fb90a (twelve array parameters, unnest), optionally after `prefix` (e.g. EXPLAIN). */
function unnestInsert(sql: Sql, rows: readonly LogRow[], conflict: boolean, prefix: Fragment = sql.unsafe('')) {
  const col = <K extends keyof LogRow>(k: K) => rows.map((r) => r[k]) as string[];
  return sql`${prefix} insert into workflow_logs (${sql.unsafe(COLUMNS)}) select * from unnest(
    ${col('client_id')}::text[], ${col('event_id')}::text[], ${col('received_at')}::text[]::timestamptz[], ${col('executed_at')}::text[]::timestamptz[],
    ${col('environment')}::text[], ${col('workflow')}::text[], ${col('run_id')}::text[], ${col('status')}::text[], ${col('level')}::text[],
    ${col('message')}::text[], ${col('duration_ms')}::float8[], ${rows.map((r) => JSON.stringify(r.metadata))}::text[]::jsonb[])
    ${sql.unsafe(conflict ? 'on conflict do nothing' : '')}`;
}

/** This branch's INSERT (insertLogs with `conflict`, insertNewLogs without): one JSON parameter, json_to_recordset. */
function jsonInsert(sql: Sql, rows: readonly LogRow[], conflict: boolean, prefix: Fragment = sql.unsafe('')) {
  return sql`${prefix} insert into workflow_logs (${sql.unsafe(COLUMNS)})
    select ${sql.unsafe(COLUMNS)} from json_to_recordset(${JSON.stringify(rows)}::text::json) as r(${sql.unsafe(RECORD)})
    ${sql.unsafe(conflict ? 'on conflict do nothing' : '')}`;
}

const variants: Variant[] = [
  { name: 'unnest, on conflict (before)', write: (sql, rows) => unnestInsert(sql, rows, true) },
  { name: 'unnest, no on conflict', write: (sql, rows) => unnestInsert(sql, rows, false) },
  { name: 'json_to_recordset, on conflict (insertLogs)', write: (sql, rows) => jsonInsert(sql, rows, true) },
  { name: 'json_to_recordset, no on conflict (insertNewLogs)', write: (sql, rows) => jsonInsert(sql, rows, false) },
  {
    name: 'COPY to temp, insert select on conflict',
    write: (sql, rows) =>
      sql.begin(async (tx) => {
        await tx.unsafe(`create temp table if not exists logs_stage (like workflow_logs including defaults) on commit delete rows`);
        await copyInto(tx, 'logs_stage', rows);
        await tx.unsafe(`insert into workflow_logs (${COLUMNS}) select ${COLUMNS} from logs_stage on conflict do nothing`);
      }),
  },
  {
    name: 'COPY to temp, insert select (no on conflict)',
    write: (sql, rows) =>
      sql.begin(async (tx) => {
        await tx.unsafe(`create temp table if not exists logs_stage (like workflow_logs including defaults) on commit delete rows`);
        await copyInto(tx, 'logs_stage', rows);
        await tx.unsafe(`insert into workflow_logs (${COLUMNS}) select ${COLUMNS} from logs_stage`);
      }),
  },
  { name: 'COPY (superuser, no idempotency)', write: (sql, rows) => copyInto(sql, 'workflow_logs', rows) },
];

function backendCpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / 100) * 1e6;
}

async function main(): Promise<void> {
  await dropDatabase(DATABASE_URL);
  await ensureDatabase(DATABASE_URL);
  const admin = createSql(DATABASE_URL, { max: 1, applicationName: 'pg-cost' });
  await migrate(admin);
  await admin`select ensure_workflow_logs_partitions(current_date - 1, current_date + 1)`;
  if (process.env.PG_COST_GIN_FASTUPDATE) {
    for (const { name } of await admin`select c.relname as name from pg_class c join pg_index i on i.indexrelid = c.oid
        where c.relname like 'workflow_logs_p%message%' and c.relkind = 'i'`)
      await admin.unsafe(`alter index ${name} set (fastupdate = ${process.env.PG_COST_GIN_FASTUPDATE})`);
  }
  const chosen = variants.filter((v) => !ONLY || ONLY.some((o) => v.name.startsWith(o)));
  for (const [i] of chosen.entries()) await createClient(admin, `cost-${i}`, `cost-${i}`);
  // one backend a variant, so each one's CPU is its own
  const conns = chosen.map(() => createSql(DATABASE_URL, { max: 1, applicationName: 'pg-cost' }));
  const pids = await Promise.all(conns.map(async (c) => Number((await c`select pg_backend_pid() as pid`)[0]!.pid)));
  const totals = chosen.map(() => ({ cpu: 0, node: 0, wal: 0, fpi: 0, wall: 0, rows: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, v] of chosen.entries()) {
      const batches = Array.from({ length: STATEMENTS }, () => rowsOf(`cost-${i}`));
      const walBefore = (await admin`select wal_bytes::float8 as b, wal_fpi::float8 as f from pg_stat_wal`)[0]!;
      const cpu = backendCpuUs(pids[i]!);
      const node = process.cpuUsage();
      const started = performance.now();
      for (const rows of batches) await v.write(conns[i]!, rows);
      const t = totals[i]!;
      const used = process.cpuUsage(node);
      t.node += used.user + used.system;
      t.wall += (performance.now() - started) * 1000;
      t.cpu += backendCpuUs(pids[i]!) - cpu;
      const walAfter = (await admin`select wal_bytes::float8 as b, wal_fpi::float8 as f from pg_stat_wal`)[0]!;
      t.wal += walAfter.b - walBefore.b;
      t.fpi += walAfter.f - walBefore.f;
      t.rows += ROWS * STATEMENTS;
    }
  }
  console.log(`\n${ROUNDS} rounds × ${STATEMENTS} statements × ${ROWS} rows per variant, alternating\n`);
  console.log(
    '| variant | Postgres CPU µs/row (its backend) | node CPU µs/row | wall µs/row | WAL bytes/row | full-page images/1,000 rows |\n| --- | --- | --- | --- | --- | --- |',
  );
  for (const [i, v] of chosen.entries()) {
    const t = totals[i]!;
    console.log(
      `| ${v.name} | ${(t.cpu / t.rows).toFixed(1)} | ${(t.node / t.rows).toFixed(1)} | ${(t.wall / t.rows).toFixed(1)} | ${(t.wal / t.rows).toFixed(0)} | ${((1000 * t.fpi) / t.rows).toFixed(1)} |`,
    );
  }
  // one statement of each INSERT form under EXPLAIN (ANALYZE, BUFFERS, WAL): its own WAL and buffers, no other backend's
  console.log('\nEXPLAIN (ANALYZE, BUFFERS, WAL), five statements of each, per row:\n');
  console.log('| INSERT | WAL records | WAL bytes | full-page images | shared buffers hit | dirtied |\n| --- | --- | --- | --- | --- | --- |');
  const explain = admin.unsafe('explain (analyze, buffers, wal, timing off, format json)');
  const forms: Array<[string, (rows: LogRow[]) => Promise<unknown>]> = [
    ['unnest, on conflict (before)', (rows) => unnestInsert(admin, rows, true, explain)],
    ['json_to_recordset, on conflict', (rows) => jsonInsert(admin, rows, true, explain)],
    ['json_to_recordset, no on conflict', (rows) => jsonInsert(admin, rows, false, explain)],
  ];
  // five statements of each, alternating: one alone may or may not hold a GIN pending-list cleanup
  const sums = forms.map(() => ({}) as Record<string, number>);
  for (let n = 0; n < 5; n++) {
    for (const [i, [, run]] of forms.entries()) {
      const [row] = (await run(rowsOf('cost-0'))) as Array<{ 'QUERY PLAN': Array<{ Plan: Record<string, number> }> }>;
      for (const [k, v] of Object.entries(row!['QUERY PLAN'][0]!.Plan)) if (typeof v === 'number') sums[i]![k] = (sums[i]![k] ?? 0) + v;
    }
  }
  for (const [i, [name]] of forms.entries()) {
    const per = (k: string) => ((sums[i]![k] ?? 0) / (5 * ROWS)).toFixed(2);
    console.log(
      `| ${name} | ${per('WAL Records')} | ${per('WAL Bytes')} | ${per('WAL FPI')} | ${per('Shared Hit Blocks')} | ${per('Shared Dirtied Blocks')} |`,
    );
  }
  await Promise.all([...conns, admin].map((c) => c.end()));
}

await main();
