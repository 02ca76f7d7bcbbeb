import { randomUUID } from 'node:crypto';
import { isUniqueViolation, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { generateKey, isLegacyKeyPrefix, LEGACY_PREFIX, unkeyedLegacyPrefix } from './format.js';
import { HASH_BCRYPT, hashKey } from './hash.js';
import { inTransaction, keyCapReached, lockAndCountUsableKeys } from './key-cap.js';
import { aKeyOf, type Role } from './roles.js';

export type KeyStatus = 'active' | 'revoked' | 'expired';

/** A key as listed: never its secret or hash. */
export interface KeyRecord {
  id: string;
  prefix: string;
  name: string;
  role: Role;
  clientId: string | null;
  status: KeyStatus;
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The key this one replaced by rotation. */
  rotatedFrom: string | null;
  /** The key that replaced this one by rotation. */
  replacedBy: string | null;
  /** Requests authenticated with this key (flushed from each process within a minute). */
  requestCount: number;
  /**
   * A working legacy key (imported from a development `.env`, no `clk_`
   * public id, possibly weak): rotate it now, whatever its age. Lists, the
   * dashboard and the `key_rotation_due` alert show it.
   */
  rotationDue: boolean;
}

/** What verification needs to know about a key, read in one query. */
export interface KeyForVerification {
  id: string;
  prefix: string;
  keyHash: string;
  hashVersion: number;
  role: Role;
  clientId: string | null;
  isActive: boolean;
  expiresAt: Date | null;
  revokedAt: Date | null;
  clientActive: boolean;
  /** The client's retention (days); null for admin keys. */
  retentionDays?: number | null;
}

export function keyStatus(r: { isActive: boolean; revokedAt: Date | null; expiresAt: Date | null }, now = Date.now()): KeyStatus {
  if (!r.isActive || r.revokedAt) return 'revoked';
  if (r.expiresAt && r.expiresAt.getTime() <= now) return 'expired';
  return 'active';
}

export function toRecord(r: Record<string, unknown>): KeyRecord {
  const base = {
    isActive: r.is_active as boolean,
    revokedAt: (r.revoked_at as Date | null) ?? null,
    expiresAt: (r.expires_at as Date | null) ?? null,
  };
  const status = keyStatus(base);
  const replacedBy = (r.replaced_by as string | null) ?? null;
  return {
    id: r.id as string,
    prefix: r.prefix as string,
    name: r.name as string,
    role: r.role as Role,
    clientId: (r.client_id as string | null) ?? null,
    status,
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date | null) ?? null,
    lastUsedIp: (r.last_used_ip as string | null) ?? null,
    expiresAt: base.expiresAt,
    revokedAt: base.revokedAt,
    rotatedFrom: (r.rotated_from as string | null) ?? null,
    replacedBy,
    requestCount: Number(r.request_count ?? 0),
    rotationDue: isLegacyKeyPrefix(r.prefix as string) && status === 'active' && replacedBy === null,
  };
}

export interface NewKey {
  name: string;
  role: Role;
  /** Required for every role but admin, which belongs to no tenant. */
  clientId: string | null;
  expiresAt?: Date | null;
  bcryptCost: number;
  /** Set by rotation: the key this one replaces. */
  rotatedFrom?: string | null;
  /**
   * MAX_KEYS_PER_CLIENT: refuse (409 conflict) a client key that would give
   * the client more usable keys than this. Every key a tenant or an operator
   * issues passes it; unset only where no one asks for a key (the demo
   * tenant's first key, `api-key import` of keys that exist already, test
   * fixtures). Admin keys belong to no client and are never counted.
   */
  maxKeysPerClient?: number;
}

/** Creates a key; the returned `key` is the only time the secret exists outside the caller. */
export async function createKey(sql: Sql, input: NewKey): Promise<{ key: string; record: KeyRecord }> {
  const { key, prefix } = generateKey();
  return { key, record: await storeKey(sql, key, prefix, input) };
}

/** Stores `key` (already generated, or imported) under `prefix`, bcrypt-hashed. */
export async function storeKey(sql: Sql, key: string, prefix: string, input: NewKey): Promise<KeyRecord> {
  if ((input.role === 'admin') !== (input.clientId === null)) {
    throw new AppError('bad_request', input.role === 'admin' ? 'An admin key belongs to no client' : `${aKeyOf(input.role)} needs a client`);
  }
  // bcrypt before the cap's lock: the client's other creates do not wait for it
  const hash = await hashKey(key, input.bcryptCost);
  const id = `key_${randomUUID().replaceAll('-', '')}`;
  const insert = async (tx: Sql) => {
    const [row] = await tx`
      insert into api_keys (id, prefix, key_hash, hash_version, role, client_id, name, expires_at, rotated_from)
      values (${id}, ${prefix}, ${hash}, ${HASH_BCRYPT}, ${input.role}, ${input.clientId}, ${input.name}, ${input.expiresAt ?? null}, ${input.rotatedFrom ?? null})
      returning *`;
    return toRecord(row!);
  };
  const { clientId, maxKeysPerClient: cap } = input;
  if (clientId === null || cap === undefined) return insert(sql);
  return inTransaction(sql, async (tx) => {
    const usable = await lockAndCountUsableKeys(tx, clientId);
    if (usable >= cap) throw keyCapReached(clientId, usable, cap);
    return insert(tx);
  });
}

/** Replaces a verified legacy SHA-256 hash by bcrypt; a no-op if another process did it first. */
export async function upgradeLegacyHash(sql: Sql, keyId: string, key: string, bcryptCost: number): Promise<boolean> {
  const hash = await hashKey(key, bcryptCost);
  const rows = await sql`
    update api_keys set key_hash = ${hash}, hash_version = ${HASH_BCRYPT}
    where id = ${keyId} and hash_version = 1 returning id`;
  return rows.length > 0;
}

/** One key by id or prefix; with a tenant, only that tenant's (another's is "not found"). */
export async function getKey(sql: Sql, clientId: string | undefined, idOrPrefix: string): Promise<KeyRecord | undefined> {
  const [row] = await sql`
    select * from api_keys where (id = ${idOrPrefix} or prefix = ${idOrPrefix})
      ${clientId === undefined ? sql`` : sql`and client_id = ${clientId}`}`;
  return row ? toRecord(row) : undefined;
}

/**
 * The row a key is stored under: by its prefix, or for a legacy key whose row
 * still carries the former unkeyed id (`lgc_`), by that id, as a fallback.
 * The caller re-keys such a row once the secret verified (migrateLegacyLookupId).
 */
export async function findKeyByLookupId(sql: Sql, rawKey: string, prefix: string): Promise<KeyForVerification | undefined> {
  const key = await findKeyForVerification(sql, prefix);
  if (key || !prefix.startsWith(LEGACY_PREFIX)) return key;
  return findKeyForVerification(sql, unkeyedLegacyPrefix(rawKey)!);
}

/**
 * Moves a verified legacy key from its former unkeyed id to its keyed one
 * (`prefix`), in its name too (`imported lgc_…`), so the old id is no longer
 * shown or logged. A no-op when another process did it first. Returns the key
 * as it is stored now.
 */
export async function migrateLegacyLookupId(sql: Sql, key: KeyForVerification, prefix: string): Promise<KeyForVerification> {
  if (key.prefix === prefix) return key;
  try {
    await sql`
      update api_keys set prefix = ${prefix}, name = replace(name, ${key.prefix}, ${prefix})
      where id = ${key.id} and prefix = ${key.prefix}`;
  } catch (err) {
    // the same key imported again under its keyed id: that row answers from now on
    if (isUniqueViolation(err)) return key;
    throw err;
  }
  return { ...key, prefix };
}

export async function findKeyForVerification(sql: Sql, prefix: string): Promise<KeyForVerification | undefined> {
  const [r] = await sql`
    select k.*, coalesce(c.is_active, true) as client_active, c.retention_days
    from api_keys k left join clients c on c.id = k.client_id
    where k.prefix = ${prefix}`;
  return r ? toVerification(r) : undefined;
}

/**
 * The current state of many keys by id, in one query (primary-key lookups and
 * the clients' primary key): what a verifier refreshes when a cached key's TTL
 * ends. It carries the hash only so that a changed hash can be noticed; keys
 * not returned are gone.
 */
export async function findKeyStates(sql: Sql, ids: readonly string[]): Promise<Map<string, KeyForVerification>> {
  const rows = await sql`
    select k.id, k.prefix, k.key_hash, k.hash_version, k.role, k.client_id, k.is_active, k.expires_at, k.revoked_at,
      coalesce(c.is_active, true) as client_active, c.retention_days
    from api_keys k left join clients c on c.id = k.client_id
    where k.id = any(${ids as string[]}::text[])`;
  return new Map(rows.map((r) => [r.id as string, toVerification(r)]));
}

function toVerification(r: Record<string, unknown>): KeyForVerification {
  return {
    id: r.id as string,
    prefix: r.prefix as string,
    keyHash: r.key_hash as string,
    hashVersion: r.hash_version as number,
    role: r.role as Role,
    clientId: (r.client_id as string | null) ?? null,
    isActive: r.is_active as boolean,
    expiresAt: (r.expires_at as Date | null) ?? null,
    revokedAt: (r.revoked_at as Date | null) ?? null,
    clientActive: r.client_active as boolean,
    retentionDays: (r.retention_days as number | null) ?? null,
  };
}

export async function listKeys(sql: Sql, filter: { clientId?: string } = {}): Promise<KeyRecord[]> {
  const rows = filter.clientId
    ? await sql`select * from api_keys where client_id = ${filter.clientId} order by created_at, id`
    : await sql`select * from api_keys order by created_at, id`;
  return rows.map(toRecord);
}

/**
 * Revokes a key by id or prefix. With `clientId`, only that tenant's keys are
 * candidates (another tenant's key is "not found"). Undefined when none.
 */
export async function revokeKey(sql: Sql, idOrPrefix: string, clientId?: string): Promise<KeyRecord | undefined> {
  const [row] = await sql`
    update api_keys set is_active = false, revoked_at = coalesce(revoked_at, now())
    where (id = ${idOrPrefix} or prefix = ${idOrPrefix})
      ${clientId === undefined ? sql`` : sql`and client_id = ${clientId}`}
    returning *`;
  return row ? toRecord(row) : undefined;
}
