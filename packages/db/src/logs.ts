import type { QueuedEvent } from '@central-logger/events';
import type { Sql } from './client.js';

/** An event with the tenant and arrival time its job carried. */
export interface LogRow extends QueuedEvent {
  client_id: string;
  received_at: string;
}

/**
 * Inserts rows with one statement of array parameters (12 parameters whatever
 * the row count, so no 65,534-parameter ceiling). Idempotent: a row whose
 * (client_id, event_id, executed_at) exists is skipped. Returns rows inserted.
 * Timestamps and metadata travel as text[] and are cast by Postgres: typed as
 * timestamptz[] or jsonb[], postgres.js would build a Date per timestamp and
 * serialise each element again (a third of the worker's CPU per row, measured
 * with bench/ingest/insert.ts); Postgres parses the same text either way.
 */
export async function insertLogs(sql: Sql, rows: readonly LogRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const col = <K extends keyof LogRow>(k: K) => rows.map((r) => r[k]);
  const result = await sql`
    insert into workflow_logs
      (client_id, event_id, received_at, executed_at, environment, workflow, run_id,
       status, level, message, duration_ms, metadata)
    select * from unnest(
      ${col('client_id') as string[]}::text[], ${col('event_id') as string[]}::text[],
      ${col('received_at') as string[]}::text[]::timestamptz[], ${col('executed_at') as string[]}::text[]::timestamptz[],
      ${col('environment') as string[]}::text[], ${col('workflow') as string[]}::text[],
      ${col('run_id') as string[]}::text[], ${col('status') as string[]}::text[],
      ${col('level') as string[]}::text[], ${col('message') as string[]}::text[],
      ${col('duration_ms') as number[]}::float8[],
      ${rows.map((r) => JSON.stringify(r.metadata))}::text[]::jsonb[])
    on conflict do nothing`;
  return result.count;
}
