import type { QueuedEvent } from '@central-logger/events';
import type { Sql } from './client.js';

/** An event with the tenant and arrival time its job carried. */
export interface LogRow extends QueuedEvent {
  client_id: string;
  received_at: string;
}

const COLUMNS = 'client_id, event_id, received_at, executed_at, environment, workflow, run_id, status, level, message, duration_ms, metadata';
// a field missing from a row's JSON (undefined in JS) reads as NULL
const RECORD = `client_id text, event_id text, received_at timestamptz, executed_at timestamptz, environment text, workflow text,
  run_id text, status text, level text, message text, duration_ms float8, metadata jsonb`;

/**
 * Inserts rows with one statement whose one parameter is the rows as JSON
 * text (no 65,534-parameter ceiling), unpacked by json_to_recordset.
 * Idempotent: a row whose (client_id, event_id, executed_at) exists is
 * skipped. Returns rows inserted.
 *
 * Why JSON: JSON.stringify of the rows is native in Node, where postgres.js
 * escaped every element of twelve text[] parameters (the worker's largest cost
 * after garbage collection), and Postgres unpacks one JSON document for less
 * CPU than it unnests twelve arrays and casts three of them (measured with
 * bench/ingest/pg-cost.ts; figures in bench/ingest/README.md).
 */
export async function insertLogs(sql: Sql, rows: readonly LogRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql`
    insert into workflow_logs (${sql.unsafe(COLUMNS)})
    select ${sql.unsafe(COLUMNS)} from json_to_recordset(${JSON.stringify(rows)}::text::json) as r(${sql.unsafe(RECORD)})
    on conflict do nothing`;
  return result.count;
}

/**
 * insertLogs without the idempotency: a plain INSERT, which fails whole with
 * a unique violation (23505, see isUniqueViolation) if any row's
 * (client_id, event_id, executed_at) is stored already or repeats within
 * `rows`. Postgres skips the ON CONFLICT arbiter's probe of the unique index
 * before each row (about a tenth of its CPU per row under the ingest bench);
 * the unique index still refuses a duplicate. For callers that expect new rows
 * and retry with insertLogs when refused (the worker's LogBatcher).
 */
export async function insertNewLogs(sql: Sql, rows: readonly LogRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql`
    insert into workflow_logs (${sql.unsafe(COLUMNS)})
    select ${sql.unsafe(COLUMNS)} from json_to_recordset(${JSON.stringify(rows)}::text::json) as r(${sql.unsafe(RECORD)})`;
  return result.count;
}
