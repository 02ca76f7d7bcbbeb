import type { Sql } from './client.js';
import type { LogRow } from './logs.js';

/** Keeps rows Postgres refused, with the error that refused them. */
export async function insertDeadLetters(sql: Sql, rows: readonly LogRow[], error: unknown): Promise<void> {
  const e = error as { code?: string; message?: string };
  const message = String(e.message ?? error).slice(0, 2_000);
  // JSON.stringify escapes NUL and lone surrogates, so the payload always fits in text
  const payload = rows.map((r) => JSON.stringify(r));
  await sql`
    insert into dead_letter_events (client_id, event_id, received_at, payload, error_code, error_message)
    select c, ev, r, p, ${e.code ?? null}, ${message}
    from unnest(${rows.map((r) => r.client_id)}::text[], ${rows.map((r) => r.event_id)}::text[],
                ${rows.map((r) => r.received_at)}::timestamptz[], ${payload}::text[]) as t(c, ev, r, p)`;
}
