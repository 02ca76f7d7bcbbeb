import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';

/**
 * MAX_KEYS_PER_CLIENT: what a tenant's keys multiply (live tails, shares of
 * the fair hash queue, per-key rate limits, key cache entries) is bounded
 * per key, so the number of keys must be bounded too.
 *
 * Advisory lock class of the cap (the two-int form: a key space apart from
 * migrate's one-bigint lock). The second int is a hash of the client id; two
 * clients sharing a hash only wait for each other.
 */
const KEY_CAP_LOCK_CLASS = 4_221_002;

/**
 * Takes the client's key-cap lock until the transaction ends, then counts its
 * usable keys: neither revoked nor expired, a rotated key until its grace
 * ends. Every capped insert runs after this in the same transaction, so the
 * count and the insert are one decision and parallel creates for one client
 * cannot pass the cap together. Under READ COMMITTED (`sql.begin`'s default)
 * the count, taken after the lock, sees what the previous holder committed.
 */
export async function lockAndCountUsableKeys(tx: Sql, clientId: string): Promise<number> {
  await tx`select pg_advisory_xact_lock(${KEY_CAP_LOCK_CLASS}, hashtext(${clientId}))`;
  return countUsableKeys(tx, clientId);
}

/** The client's keys that count against MAX_KEYS_PER_CLIENT now: neither revoked nor expired (a rotated key until its grace ends). */
export async function countUsableKeys(sql: Sql, clientId: string): Promise<number> {
  const [row] = await sql`
    select count(*)::int as n from api_keys
    where client_id = ${clientId} and is_active and revoked_at is null and (expires_at is null or expires_at > now())`;
  return row!.n as number;
}

/** 409 for a key the cap leaves no room for; the way out is revoking a key, or the operator raising the setting. */
export function keyCapReached(clientId: string, usable: number, cap: number): AppError {
  return new AppError(
    'conflict',
    `Client "${clientId}" has ${usable} usable API keys and may have at most ${cap}: revoke keys it no longer uses to make room (expired keys, and rotated keys past their grace period, do not count)`,
  );
}

/**
 * Runs `fn` in the caller's transaction, or in one of its own when `sql` is
 * the pool: the lock above lasts only as long as its transaction.
 */
export async function inTransaction<T>(sql: Sql, fn: (tx: Sql) => Promise<T>): Promise<T> {
  // a transaction handle of porsager/postgres has savepoint(), the pool does not
  if (typeof (sql as unknown as { savepoint?: unknown }).savepoint === 'function') return fn(sql);
  return sql.begin((tx) => fn(tx as unknown as Sql)) as Promise<T>;
}
