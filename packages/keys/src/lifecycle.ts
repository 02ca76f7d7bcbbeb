import type { RedisClient as Redis } from '@central-logger/redis';
import { activateClient, deactivateClient, type Sql } from '@central-logger/db';
import { publishInvalidation } from './invalidation.js';
import { rotateKey, type Rotation } from './rotation.js';
import { revokeKey, type KeyRecord } from './store.js';
import type { Invalidation } from './verifier.js';

/**
 * Changes that must reach every process's key cache. The database is the
 * truth and is written first; the announcement over Redis makes the change
 * take effect everywhere at once. If Redis cannot take it, caches still
 * expire within their TTL, and `announced` says so. What must commit with
 * the change (an audit row) goes in `inTransaction`.
 */
export interface Announced<T> {
  result: T;
  announced: boolean;
}

/** Work that must commit with the change or not at all, e.g. its audit row. */
export type InTransaction<T> = (tx: Sql, result: T) => Promise<unknown>;

async function announce(redis: Redis, what: Invalidation): Promise<boolean> {
  try {
    await publishInvalidation(redis, what);
    return true;
  } catch {
    return false;
  }
}

export async function revokeKeyEverywhere(
  sql: Sql,
  redis: Redis,
  idOrPrefix: string,
  clientId?: string,
  inTransaction?: InTransaction<KeyRecord>,
): Promise<Announced<KeyRecord | undefined>> {
  const record = (await sql.begin(async (tx) => {
    const r = await revokeKey(tx as unknown as Sql, idOrPrefix, clientId);
    if (r && inTransaction) await inTransaction(tx as unknown as Sql, r);
    return r;
  })) as KeyRecord | undefined;
  if (!record) return { result: undefined, announced: false };
  return { result: record, announced: await announce(redis, { keyId: record.id }) };
}

/**
 * Deactivates (`active` false) or reactivates a client, then tells every
 * process: cached copies of its keys are dropped and read again, so they stop,
 * or start again, working within a second. Revoked and expired keys stay so.
 */
export async function setClientActiveEverywhere(
  sql: Sql,
  redis: Redis,
  clientId: string,
  active: boolean,
  inTransaction?: InTransaction<string>,
): Promise<Announced<boolean>> {
  const found = (await sql.begin(async (tx) => {
    const f = await (active ? activateClient : deactivateClient)(tx as unknown as Sql, clientId);
    if (f && inTransaction) await inTransaction(tx as unknown as Sql, clientId);
    return f;
  })) as boolean;
  if (!found) return { result: false, announced: false };
  return { result: true, announced: await announce(redis, { clientId }) };
}

/** Rotates a key, then tells every process: cached copies of the old key learn its new expiry. */
export async function rotateKeyEverywhere(
  sql: Sql,
  redis: Redis,
  clientId: string | undefined,
  idOrPrefix: string,
  options: { graceMs: number; bcryptCost: number; maxKeysPerClient?: number; inTransaction?: InTransaction<Rotation> },
): Promise<Announced<Rotation>> {
  const rotation = await rotateKey(sql, clientId, idOrPrefix, options);
  return { result: rotation, announced: await announce(redis, { keyId: rotation.previous.id }) };
}
