import { AppError } from '@central-logger/errors';
import type { Db } from './db.js';

export interface ExpiryChange {
  id: string;
  prefix: string;
  clientId: string | null;
  previous: Date | null;
  expiresAt: Date | null;
}

/**
 * Sets (or with null clears) a live key's expiry, by id or prefix.
 * Undefined when there is no such key; 409 when it is already revoked, since
 * an expiry would mean nothing. The caller announces the change after commit.
 */
export async function setKeyExpiry(tx: Db, idOrPrefix: string, expiresAt: Date | null): Promise<ExpiryChange | undefined> {
  const [row] = await tx`
    select id, prefix, client_id, expires_at, is_active, revoked_at from api_keys
    where id = ${idOrPrefix} or prefix = ${idOrPrefix} for update`;
  if (!row) return undefined;
  if (!row.is_active || row.revoked_at) throw new AppError('conflict', `API key ${row.prefix as string} is revoked; its expiry cannot change`);
  await tx`update api_keys set expires_at = ${expiresAt} where id = ${row.id as string}`;
  return {
    id: row.id as string,
    prefix: row.prefix as string,
    clientId: (row.client_id as string | null) ?? null,
    previous: (row.expires_at as Date | null) ?? null,
    expiresAt,
  };
}
