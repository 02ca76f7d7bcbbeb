import { createHmac } from 'node:crypto';
import type postgres from 'postgres';
import type { Sql } from './client.js';
import { roleUrl, setRolePasswords } from './roles.js';

/** A transaction handle from `sql.begin`: inside it, use only this. */
export type Tx = postgres.TransactionSql<Record<string, never>>;

/** The LOGIN role tenant reads run as: owns nothing, no BYPASSRLS, SELECT only (migration 020). */
export const READER_ROLE = 'central_logger_reader';

/** `ownerUrl` with the reader role as its user and no password: the default READ_DATABASE_URL. */
export function readerUrl(ownerUrl: string): string {
  return roleUrl(ownerUrl, 'reader');
}

/**
 * How long a tenant token is valid after it is signed (it is checked when each
 * statement starts). Covers a clock skew between this process and Postgres;
 * a token is signed per transaction, so it need not outlive one.
 */
export const TENANT_TOKEN_TTL_S = 300;

/** `<expires>.<hex HMAC-SHA256(secret, "<expires>:<clientId>")>`: what app_tenant() (migration 091) verifies. */
export function tenantToken(secret: Buffer, clientId: string, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + TENANT_TOKEN_TTL_S;
  return `${expires}.${createHmac('sha256', secret).update(`${expires}:${clientId}`).digest('hex')}`;
}

/** The secret tenant tokens are signed with; readable by the owner and central_logger_ingest, never the reader. */
export async function loadTenantTokenSecret(sql: Sql): Promise<Buffer> {
  const [row] = await sql`select secret from tenant_token_secret`;
  if (!row) throw new Error('tenant_token_secret is empty: run central-logger migrate');
  return row.secret as Buffer;
}

const tokenSecrets = new WeakMap<Sql, () => Promise<Buffer>>();

/**
 * Makes `withTenant` on `readSql` sign each transaction's tenant with the
 * secret `load` fetches (once; again after a failure). Without it, a reader
 * pool's transactions carry no token and see no rows.
 */
export function signTenantsOn(readSql: Sql, load: () => Promise<Buffer>): void {
  let secret: Promise<Buffer> | undefined;
  tokenSecrets.set(readSql, () => {
    secret ??= load().catch((err: unknown) => {
      secret = undefined;
      throw err;
    });
    return secret;
  });
}

/**
 * Runs `fn` in a read-only transaction scoped to one tenant: the
 * transaction-local `app.client_id`, with its signed `app.tenant_token` when
 * `sql` signs tenants (`signTenantsOn`), is what the row-level security
 * policy compares with, so a pooled connection never carries a tenant into
 * the next transaction and a reader session cannot pick another tenant.
 * Queries inside must still name the client_id themselves. With
 * `snapshot`, the statements of `fn` all read one snapshot.
 */
export async function withTenant<T>(sql: Sql, clientId: string, fn: (tx: Tx) => Promise<T>, options: { snapshot?: boolean } = {}): Promise<T> {
  if (!clientId) throw new Error('withTenant needs a client id');
  const secret = tokenSecrets.get(sql);
  const token = secret ? tenantToken(await secret(), clientId) : '';
  // snapshot: every statement of fn sees the database as the first one did (repeatable read; read only, so it never fails to serialize)
  const result = await sql.begin(options.snapshot ? 'read only isolation level repeatable read' : 'read only', async (tx) => {
    // pipelined: sent now, it runs before any query fn sends on this connection,
    // so the tenant costs no extra round trip
    // force_custom_plan: postgres.js prepares each statement, and after five runs Postgres may switch to
    // a generic plan, blind to the parameters: the time range that prunes day partitions, the q pattern.
    // Such a plan of a q search ran 4-9 times slower (bench/reads); a plan for the values costs less.
    const scoped =
      tx`select set_config('app.client_id', ${clientId}, true), set_config('app.tenant_token', ${token}, true), set_config('plan_cache_mode', 'force_custom_plan', true)`.execute();
    scoped.catch(() => {}); // its failure also fails fn's queries; it is rethrown below
    const out = await fn(tx as unknown as Tx);
    await scoped;
    return out;
  });
  return result as T;
}

/** Sets the login password of the read role (migration 020 creates it without one). */
export async function setReaderPassword(sql: Sql, password: string): Promise<void> {
  await setRolePasswords(sql, { reader: password });
}
