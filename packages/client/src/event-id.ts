import { randomFillSync } from 'node:crypto';

const bytes = Buffer.alloc(16);

/**
 * A version 7 UUID (RFC 9562): the time in milliseconds, then random bits.
 * Ids made later sort later, so the rows of a batch go to the end of the
 * tenant's part of the service's unique index, not a random page each (a v4
 * UUID's): cheaper inserts for the service. Node 20 has no v7 of its own.
 */
export function uuidv7(now = Date.now()): string {
  randomFillSync(bytes);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70; // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const h = bytes.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
