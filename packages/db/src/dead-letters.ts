import type { Sql } from './client.js';
import { insertLogs, type LogRow } from './logs.js';

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

export interface DeadLetter {
  id: number;
  clientId: string;
  eventId: string;
  receivedAt: Date;
  errorCode: string | null;
  errorMessage: string;
  failedAt: Date;
}

/** Dead letters, newest first, optionally one client's. */
export async function listDeadLetters(sql: Sql, filter: { clientId?: string; limit: number }): Promise<DeadLetter[]> {
  const rows = await sql`
    select id, client_id, event_id, received_at, error_code, error_message, failed_at from dead_letter_events
    ${filter.clientId === undefined ? sql`` : sql`where client_id = ${filter.clientId}`}
    order by failed_at desc, id desc limit ${filter.limit}`;
  return rows.map((r) => ({
    id: Number(r.id),
    clientId: r.client_id as string,
    eventId: r.event_id as string,
    receivedAt: r.received_at as Date,
    errorCode: (r.error_code as string | null) ?? null,
    errorMessage: r.error_message as string,
    failedAt: r.failed_at as Date,
  }));
}

/** How many dead letters are kept. */
export async function countDeadLetters(sql: Sql): Promise<number> {
  const [row] = await sql`select count(*)::int as n from dead_letter_events`;
  return row!.n as number;
}

/** One dead letter with the event as it was accepted (JSON text), to inspect before a replay. */
export async function getDeadLetter(sql: Sql, id: number): Promise<(DeadLetter & { payload: string }) | undefined> {
  const [r] = await sql`select * from dead_letter_events where id = ${id}`;
  if (!r) return undefined;
  return {
    id: Number(r.id),
    clientId: r.client_id as string,
    eventId: r.event_id as string,
    receivedAt: r.received_at as Date,
    errorCode: (r.error_code as string | null) ?? null,
    errorMessage: r.error_message as string,
    failedAt: r.failed_at as Date,
    payload: r.payload as string,
  };
}

/**
 * Tries to store a dead letter again (after the cause was fixed): the event is
 * inserted as it was accepted, idempotently, and the dead letter removed in the
 * same transaction, with `inTransaction` (an audit row, say). Throws
 * Postgres's error if it is still refused; undefined when there is no such
 * dead letter.
 */
export async function replayDeadLetter(
  sql: Sql,
  id: number,
  inTransaction?: (tx: Sql, replayed: { eventId: string; clientId: string }) => Promise<void>,
): Promise<{ eventId: string; clientId: string } | undefined> {
  return sql.begin(async (tx) => {
    const t = tx as unknown as Sql;
    const [row] = await t`delete from dead_letter_events where id = ${id} returning payload`;
    if (!row) return undefined;
    const event = JSON.parse(row.payload as string) as LogRow;
    await insertLogs(t, [event]);
    const replayed = { eventId: event.event_id, clientId: event.client_id };
    await inTransaction?.(t, replayed);
    return replayed;
  });
}
