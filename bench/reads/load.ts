import type { Sql } from '@central-logger/db';

const DAY = 86_400_000;
const STATUSES = [...Array(90).fill('SUCCESS'), ...Array(8).fill('FAILURE'), 'TIMEOUT', 'CANCELLED'] as string[];
const ENVS = ['prod', 'prod', 'prod', 'staging', 'dev'];
const LEVELS = ['info', 'info', 'info', 'debug', 'warn', 'error'];
const REGIONS = ['eu', 'us', 'ap'];

export interface LoadOptions {
  rows: number;
  tenants: number;
  tenantId: (i: number) => string;
  /** The newest instant a row may have (ms); rows spread over the 30 days before it. */
  now: number;
}

/** One COPY text line; no field holds a tab, newline or backslash. */
function line(i: number, opts: LoadOptions): string {
  const now = opts.now;
  const r = (n: number) => Math.floor(Math.random() * n);
  const executed = new Date(now - Math.random() * 30 * DAY).toISOString();
  const status = STATUSES[r(STATUSES.length)]!;
  // about 0.5% of messages hold the rare word the q benchmark searches for
  const message =
    r(200) === 0
      ? `checksum mismatch on batch ${r(100000)} of order ${r(1000000)}`
      : `processed order ${r(1000000)} for customer c-${r(50000)} in ${r(900)} ms`;
  return `${[
    opts.tenantId(i % opts.tenants),
    `evt_${i.toString(36)}`,
    executed,
    executed,
    ENVS[r(ENVS.length)],
    `wf-${r(20)}`,
    `run-${r(100000)}`,
    status,
    LEVELS[r(LEVELS.length)],
    message,
    String(r(5000)),
    `{"region":"${REGIONS[r(3)]}","attempt":${r(5)}}`,
  ].join('\t')}\n`;
}

/**
 * Creates the tenants and COPYs `rows` rows spread over the last 30 days.
 * The secondary indexes are dropped during the load and rebuilt after from
 * their own definitions (pg_indexes), as one would for any bulk load.
 */
export async function loadRows(sql: Sql, opts: LoadOptions): Promise<void> {
  for (let t = 0; t < opts.tenants; t++) await sql`insert into clients (id, name) values (${opts.tenantId(t)}, 'bench') on conflict do nothing`;
  const indexes = await sql`
    select indexname, indexdef from pg_indexes
    where tablename = 'workflow_logs' and indexname not in (select conname from pg_constraint)`;
  for (const ix of indexes) await sql`drop index ${sql(ix.indexname as string)}`;

  let started = performance.now();
  const copy =
    await sql`copy workflow_logs (client_id, event_id, received_at, executed_at, environment, workflow, run_id, status, level, message, duration_ms, metadata) from stdin`.writable();
  const CHUNK = 2_000;
  for (let i = 0; i < opts.rows; i += CHUNK) {
    let text = '';
    for (let j = i; j < Math.min(opts.rows, i + CHUNK); j++) text += line(j, opts);
    if (!copy.write(text)) await new Promise((resolve) => copy.once('drain', resolve));
  }
  await new Promise<void>((resolve, reject) => copy.end((err?: Error | null) => (err ? reject(err) : resolve())));
  console.log(`COPY of ${opts.rows} rows: ${((performance.now() - started) / 1000).toFixed(1)} s`);

  started = performance.now();
  await sql`set maintenance_work_mem = '256MB'`;
  for (const ix of indexes) await sql.unsafe((ix.indexdef as string).replace(' ON ONLY ', ' ON '));
  console.log(`index rebuild (${indexes.map((ix) => ix.indexname).join(', ')}): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
  await sql`vacuum analyze workflow_logs`;
  const [size] = await sql`select pg_size_pretty(sum(pg_total_relation_size(inhrelid))) as s from pg_inherits where inhparent = 'workflow_logs'::regclass`;
  console.log(`vacuum analyze: ${((performance.now() - started) / 1000).toFixed(1)} s; table + indexes ${size!.s as string}`);
}
