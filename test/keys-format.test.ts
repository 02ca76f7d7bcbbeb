import { describe, expect, it } from 'vitest';
import { extractApiKey, generateKey, hashKey, parseKey, verifyKeyHash, keyDigest, HASH_BCRYPT, HASH_SHA256, parseDuration } from '@central-logger/keys';

describe('key format', () => {
  it('generates unique, checksummed keys whose prefix is the public part', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { key, prefix } = generateKey();
      expect(key).toMatch(/^clk_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
      expect(key.startsWith(`${prefix}_`)).toBe(true);
      expect(parseKey(key)).toEqual({ prefix });
      seen.add(key);
    }
    expect(seen.size).toBe(200);
  });

  it('rejects every single-character typo by its checksum, and garbage', () => {
    const { key } = generateKey();
    for (let i = 4; i < key.length; i++) {
      if (key[i] === '_') continue;
      const typo = key.slice(0, i) + (key[i] === 'x' ? 'y' : 'x') + key.slice(i + 1);
      expect(parseKey(typo), `typo at ${i}`).toBeUndefined();
    }
    for (const junk of ['', 'clk_', 'abc', `${key}x`, key.slice(0, -1), key.toUpperCase()]) expect(parseKey(junk)).toBeUndefined();
  });
});

describe('key hashing', () => {
  it('bcrypt-hashes a digest, so characters past 72 bytes still count', async () => {
    const long = `${'a'.repeat(80)}1`;
    const hash = await hashKey(long, 4);
    expect(await verifyKeyHash(long, hash, HASH_BCRYPT)).toBe(true);
    expect(await verifyKeyHash(`${'a'.repeat(80)}2`, hash, HASH_BCRYPT)).toBe(false);
    expect(await verifyKeyHash(`${long}extra`, hash, HASH_BCRYPT)).toBe(false);
  });

  it('verifies legacy SHA-256 hashes (hash_version 1)', async () => {
    expect(await verifyKeyHash('legacy-key', keyDigest('legacy-key'), HASH_SHA256)).toBe(true);
    expect(await verifyKeyHash('legacy-kez', keyDigest('legacy-key'), HASH_SHA256)).toBe(false);
  });
});

describe('extractApiKey', () => {
  it.each([
    [{ 'x-api-key': 'k1' }, 'k1'],
    [{ 'x-api-key': 'ApiKey k2' }, 'k2'],
    [{ 'x-api-key': '  apikey   k3 ' }, 'k3'],
    [{ authorization: 'Bearer k4' }, 'k4'],
    [{ authorization: 'bearer k5' }, 'k5'],
    [{ authorization: 'Basic abc' }, undefined],
    [{ 'x-api-key': '' }, undefined],
    [{}, undefined],
  ])('%o → %s', (headers, expected) => {
    expect(extractApiKey(headers)).toBe(expected);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90d', 90 * 86_400_000],
    ['24h', 86_400_000],
    ['30m', 1_800_000],
    ['2w', 14 * 86_400_000],
    ['0d', undefined],
    ['-1d', undefined],
    ['soon', undefined],
    ['10y', undefined],
  ])('%s → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
