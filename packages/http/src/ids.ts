import { randomFillSync } from 'node:crypto';

// ids are minted per request and per event on the hot path: one fill of
// 4 KiB serves 256 of them, and hex of a slice costs a third of
// randomUUID().replaceAll('-', '')
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

/** `<prefix>_` and 32 hex digits of fresh randomness (128 bits; a v4 UUID has 122). */
export function randomId(prefix: string): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + 16);
  offset += 16;
  return `${prefix}_${hex}`;
}
