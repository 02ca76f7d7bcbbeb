import { randomUUID } from 'node:crypto';
import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { generateKey } from './format.js';
import { HASH_BCRYPT, hashKey } from './hash.js';
import { lockAndCountUsableKeys } from './key-cap.js';
import { toRecord, type KeyRecord } from './store.js';

/** Default grace period during which a rotated key keeps working. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 3_600_000;

export interface Rotation {
  /** The new key: shown once, never stored. */
  key: string;
  record: KeyRecord;
  /** The old key, now expiring at the end of the grace period. */
  previous: KeyRecord;
}

/**
 * Rotates a key (Stripe's "roll key"): a new key with the same name, role
 * and client works at once; the old one keeps working until `graceMs` from
 * now (or its own earlier expiry), then fails with `api_key_expired`. Both
 * rows record the link. With a tenant, only that tenant's keys qualify
 * (another's is "not found"). A revoked, expired or already rotated key
 * cannot be rotated (409). Callers must announce `previous.id` so caches
 * pick up the new expiry.
 *
 * With `maxKeysPerClient` (MAX_KEYS_PER_CLIENT), a client key's rotation that
 * takes the client's usable keys past the cap is still allowed, since it
 * replaces a key (the old one stops counting when its grace ends), unless the
 * key being rotated itself replaced a key that is still in its grace: then
 * 409. So rotating in a loop cannot grow the client's keys, and past the cap
 * each of its keys has at most one predecessor working beside it (at most
 * twice the cap, until the graces end). Revoking the predecessor, or waiting
 * for its grace to end, makes room.
 */
export async function rotateKey(
  sql: Sql,
  clientId: string | undefined,
  idOrPrefix: string,
  options: { graceMs: number; bcryptCost: number; maxKeysPerClient?: number; inTransaction?: (tx: Sql, rotation: Rotation) => Promise<unknown> },
): Promise<Rotation> {
  const { key, prefix } = generateKey();
  // bcrypt before the transaction: no row lock is held while it runs
  const hash = await hashKey(key, options.bcryptCost);
  const id = `key_${randomUUID().replaceAll('-', '')}`;
  const graceUntil = new Date(Date.now() + options.graceMs);
  return sql.begin(async (tx) => {
    const [old] = await tx`
      select * from api_keys where (id = ${idOrPrefix} or prefix = ${idOrPrefix})
        ${clientId === undefined ? tx`` : tx`and client_id = ${clientId}`}
      for update`;
    if (!old) throw new AppError('not_found', `No API key "${idOrPrefix}"`);
    const current = toRecord(old);
    if (current.status !== 'active') throw new AppError('conflict', `API key ${current.prefix} is ${current.status} and cannot be rotated`);
    if (current.replacedBy) throw new AppError('conflict', `API key ${current.prefix} was already rotated (replaced by ${current.replacedBy})`);
    if (current.clientId !== null && options.maxKeysPerClient !== undefined) await checkRotationCap(tx as unknown as Sql, current, options.maxKeysPerClient);
    const [created] = await tx`
      insert into api_keys (id, prefix, key_hash, hash_version, role, client_id, name, expires_at, rotated_from)
      values (${id}, ${prefix}, ${hash}, ${HASH_BCRYPT}, ${current.role}, ${current.clientId}, ${current.name}, null, ${current.id})
      returning *`;
    const [updated] = await tx`
      update api_keys set replaced_by = ${id}, expires_at = least(coalesce(expires_at, 'infinity'), ${graceUntil})
      where id = ${current.id} returning *`;
    const rotation: Rotation = { key, record: toRecord(created!), previous: toRecord(updated!) };
    await options.inTransaction?.(tx as unknown as Sql, rotation);
    return rotation;
  }) as Promise<Rotation>;
}

/** The cap's rule for a rotation (see rotateKey), under the client's key-cap lock. */
async function checkRotationCap(tx: Sql, current: KeyRecord, cap: number): Promise<void> {
  const clientId = current.clientId!;
  const usable = await lockAndCountUsableKeys(tx, clientId);
  if (usable < cap || current.rotatedFrom === null) return;
  // the predecessor, if it still works (the same test as the count's)
  const [before] = await tx`
    select prefix, expires_at from api_keys
    where id = ${current.rotatedFrom} and is_active and revoked_at is null and (expires_at is null or expires_at > now())`;
  if (!before) return;
  const until = before.expires_at ? ` until ${(before.expires_at as Date).toISOString()}` : '';
  throw new AppError(
    'conflict',
    `Client "${clientId}" has ${usable} usable API keys and may have at most ${cap}, and API key ${current.prefix} replaced ${before.prefix as string}, which still works${until}: revoke ${before.prefix as string} (or wait for its grace period to end) before rotating ${current.prefix}, or revoke keys the client no longer uses`,
  );
}
