import { randomFillSync } from 'node:crypto';

// ids are minted per request and per event on the hot path: one fill of
// 4 KiB serves 256 of them, and hex of a slice costs a third of
// randomUUID().replaceAll('-', '')
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `bytes` of fresh randomness from the pool, as hex. */
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** `<prefix>_` and 32 hex digits of fresh randomness (128 bits; a v4 UUID has 122). */
export function randomId(prefix: string): string {
  return `${prefix}_${randomHex(16)}`;
}

/**
 * `<prefix>_` and 32 hex digits: the time in milliseconds (12) then 80 bits of
 * fresh randomness (20), as a v7 UUID is laid out. Ids minted later sort
 * later, so the rows of a tenant's new events go to the end of the unique
 * index (client_id, event_id, …) instead of a leaf page each: fewer pages
 * dirtied per batch, and fewer full-page images in the WAL.
 */
export function timeOrderedId(prefix: string, now = Date.now()): string {
  return `${prefix}_${now.toString(16).padStart(12, '0')}${randomHex(10)}`;
}
