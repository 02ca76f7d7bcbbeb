import type { Redis } from 'ioredis';
import { deactivateClient, type Sql } from '@central-logger/db';
import { publishInvalidation } from './invalidation.js';
import { rotateKey, type Rotation } from './rotation.js';
import { revokeKey, type KeyRecord } from './store.js';
import type { Invalidation } from './verifier.js';

/**
 * Changes that must reach every process's key cache. The database is the
 * truth and is written first; the announcement over Redis makes the change
 * take effect everywhere at once. If Redis cannot take it, caches still
 * expire within their TTL, and `announced` says so.
 */
export interface Announced<T> {
  result: T;
  announced: boolean;
}

async function announce(redis: Redis, what: Invalidation): Promise<boolean> {
  try {
    await publishInvalidation(redis, what);
    return true;
  } catch {
    return false;
  }
}

export async function revokeKeyEverywhere(sql: Sql, redis: Redis, idOrPrefix: string, clientId?: string): Promise<Announced<KeyRecord | undefined>> {
  const record = await revokeKey(sql, idOrPrefix, clientId);
  if (!record) return { result: undefined, announced: false };
  return { result: record, announced: await announce(redis, { keyId: record.id }) };
}

export async function deactivateClientEverywhere(sql: Sql, redis: Redis, clientId: string): Promise<Announced<boolean>> {
  const found = await deactivateClient(sql, clientId);
  if (!found) return { result: false, announced: false };
  return { result: true, announced: await announce(redis, { clientId }) };
}

/** Rotates a key, then tells every process: cached copies of the old key learn its new expiry. */
export async function rotateKeyEverywhere(
  sql: Sql,
  redis: Redis,
  clientId: string | undefined,
  idOrPrefix: string,
  options: { graceMs: number; bcryptCost: number },
): Promise<Announced<Rotation>> {
  const rotation = await rotateKey(sql, clientId, idOrPrefix, options);
  return { result: rotation, announced: await announce(redis, { keyId: rotation.previous.id }) };
}
