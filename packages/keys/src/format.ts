/**
 * Key format: `clk_<public id>_<secret><checksum>`.
 *  - `clk_` makes keys easy to scan for in code and logs;
 *  - the public id (12 base62 chars) is stored in clear as the key's prefix
 *    `clk_<public id>` and used to look the key up;
 *  - the secret is 43 base62 chars (≥ 256 bits);
 *  - the checksum is CRC32 of everything before it, 6 base62 chars, so that a
 *    typo or random garbage is rejected without touching the database.
 */
import { createHash, createHmac, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PUBLIC_ID_LENGTH = 12;
const SECRET_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
export const KEY_PREFIX = 'clk_';
const KEY_PATTERN = new RegExp(`^${KEY_PREFIX}([0-9A-Za-z]{${PUBLIC_ID_LENGTH}})_([0-9A-Za-z]{${SECRET_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`);

function randomBase62(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

function checksum(body: string): string {
  let n = crc32(body);
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export interface GeneratedKey {
  /** The full key: shown once, never stored. */
  key: string;
  /** `clk_<public id>`: stored in clear, safe to show and log. */
  prefix: string;
}

export function generateKey(): GeneratedKey {
  const prefix = `${KEY_PREFIX}${randomBase62(PUBLIC_ID_LENGTH)}`;
  const body = `${prefix}_${randomBase62(SECRET_LENGTH)}`;
  return { key: body + checksum(body), prefix };
}

/** `body` with its checksum appended: a well-formed key (tests forge wrong secrets with it). */
export function withChecksum(body: string): string {
  return body + checksum(body);
}

/** The prefix of a well-formed key whose checksum matches, else undefined. */
export function parseKey(key: string): { prefix: string } | undefined {
  const m = KEY_PATTERN.exec(key);
  if (!m) return undefined;
  const body = key.slice(0, key.length - CHECKSUM_LENGTH);
  if (checksum(body) !== m[3]) return undefined;
  return { prefix: `${KEY_PREFIX}${m[1]}` };
}

/**
 * The prefix a `clk_` key claims, checksum or not (`clk_` + 12 public chars):
 * recorded with failed attempts so alerts can group by key. It is the public
 * part of the key, so it reveals nothing of the secret.
 */
export function claimedPrefix(key: string): string | undefined {
  const m = /^clk_[0-9A-Za-z]{12}(?=_)/.exec(key);
  return m?.[0];
}

/**
 * Keys issued before this format (a development `.env`'s API_KEYS map) have no
 * public id, so they are stored under a lookup id computed from the whole
 * key: `lgh_<first 24 hex of HMAC-SHA-256(KEY_LOOKUP_SECRET, key)>`. The
 * lookup id is shown in lists and logs; without the server's secret it says
 * nothing about the key (the former id,
 * `lgc_<first 12 hex of SHA-256(key)>`, let anyone who saw it test guesses
 * offline; `dev-key-1` fell in 0.05 s). 96 bits keep collisions out of reach.
 */
export const LEGACY_PREFIX = 'lgh_';
/** The former, unkeyed lookup id of legacy rows not yet migrated; found only as a fallback, and re-keyed on first use. */
export const UNKEYED_LEGACY_PREFIX = 'lgc_';
const LEGACY_PATTERN = /^[\x21-\x7e]{8,256}$/;

/** The lookup id of a legacy (non-`clk_`) key under the server's lookup secret, or undefined when it cannot be one. */
export function legacyPrefix(key: string, lookupSecret: string): string | undefined {
  if (!isLegacyShaped(key)) return undefined;
  return `${LEGACY_PREFIX}${createHmac('sha256', lookupSecret).update(key).digest('hex').slice(0, 24)}`;
}

/** The former lookup id (`lgc_` + 12 hex of SHA-256): only to find rows stored before the keyed id, never to show. */
export function unkeyedLegacyPrefix(key: string): string | undefined {
  if (!isLegacyShaped(key)) return undefined;
  return `${UNKEYED_LEGACY_PREFIX}${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** A legacy key, stored under either lookup id: it has no public id and may be weak, so it is due for rotation. */
export function isLegacyKeyPrefix(prefix: string): boolean {
  return prefix.startsWith(LEGACY_PREFIX) || prefix.startsWith(UNKEYED_LEGACY_PREFIX);
}

function isLegacyShaped(key: string): boolean {
  return !key.startsWith(KEY_PREFIX) && LEGACY_PATTERN.test(key);
}
