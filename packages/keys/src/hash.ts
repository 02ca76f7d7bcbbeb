import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcrypt';

export const HASH_SHA256 = 1;
export const HASH_BCRYPT = 2;

/** SHA-256 hex of the whole key: the cache key, and what bcrypt hashes (64 bytes < bcrypt's 72). */
export function keyDigest(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * bcrypt work done by this process. Failed authentication must stay cheap
 * (no bcrypt for a malformed key or an unknown prefix); tests and the
 * benchmark read these counters to prove it.
 */
export const bcryptCalls = { hash: 0, compare: 0 };

/** bcrypt (hash_version 2); native bcrypt runs in libuv's thread pool, off the event loop. */
export function hashKey(key: string, cost: number): Promise<string> {
  bcryptCalls.hash++;
  return bcrypt.hash(keyDigest(key), cost);
}

/** SHA-256 hex of the whole key: hash_version 1, kept only to verify legacy rows. */
export function legacyHashKey(key: string): string {
  return keyDigest(key);
}

export async function verifyKeyHash(key: string, stored: string, version: number): Promise<boolean> {
  if (version === HASH_BCRYPT) {
    bcryptCalls.compare++;
    return bcrypt.compare(keyDigest(key), stored);
  }
  if (version === HASH_SHA256) {
    const a = Buffer.from(keyDigest(key), 'hex');
    const b = Buffer.from(stored, 'hex');
    return a.length === b.length && timingSafeEqual(a, b);
  }
  return false;
}
