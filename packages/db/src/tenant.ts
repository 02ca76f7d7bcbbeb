import postgres from 'postgres';
import type { Sql } from './client.js';

/** A transaction handle from `sql.begin`: inside it, use only this. */
export type Tx = postgres.TransactionSql<Record<string, never>>;

/** The LOGIN role tenant reads run as: owns nothing, no BYPASSRLS, SELECT only (migration 020). */
export const READER_ROLE = 'central_logger_reader';

/** `ownerUrl` with the reader role as its user and no password: the default READ_DATABASE_URL. */
export function readerUrl(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  url.username = READER_ROLE;
  url.password = '';
  return url.toString();
}

/**
 * Runs `fn` in a read-only transaction scoped to one tenant: the
 * transaction-local `app.client_id` is what the row-level security policy
 * compares with, so a pooled connection never carries a tenant into the next
 * transaction. Queries inside must still name the client_id themselves.
 */
export async function withTenant<T>(sql: Sql, clientId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!clientId) throw new Error('withTenant needs a client id');
  const result = await sql.begin('read only', async (tx) => {
    // pipelined: sent now, it runs before any query fn sends on this connection,
    // so the tenant costs no extra round trip
    const scoped = tx`select set_config('app.client_id', ${clientId}, true)`.execute();
    scoped.catch(() => {}); // its failure also fails fn's queries; it is rethrown below
    const out = await fn(tx as unknown as Tx);
    await scoped;
    return out;
  });
  return result as T;
}

/** Sets the login password of the read role (migration 020 creates it without one). */
export async function setReaderPassword(sql: Sql, password: string): Promise<void> {
  // ALTER ROLE takes no bind parameters; quote the literal safely
  await sql.unsafe(`alter role central_logger_reader password ${quoteLiteral(password)}`);
}

function quoteLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
