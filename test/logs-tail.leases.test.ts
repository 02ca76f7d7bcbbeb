// TailLeases against a real Redis: the per-key and per-client bounds are taken together or not at all.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TailLeases, tailNames } from '@central-logger/tail';
import { deleteRedisKeys, REDIS_URL } from './support/stack.js';

const prefix = `{tailleases${Date.now().toString(36)}}`;
const names = tailNames(prefix);
const TTL = 30_000;
// two connections: two ingest processes taking leases at once
let redis: Redis;
let other: Redis;

beforeAll(() => {
  redis = new Redis(REDIS_URL);
  other = new Redis(REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  other?.disconnect();
  await deleteRedisKeys(prefix);
});

const leasesOf = (r: Redis, now?: () => number) => new TailLeases(r, prefix, { perKey: 2, perClient: 3 }, TTL, now);
const members = (key: string) => redis.zrange(key, '0', '-1');

describe('TailLeases', () => {
  it('under a parallel burst from two processes over several keys, holds exactly the client bound, every lease in both sets', async () => {
    const [here, there] = [leasesOf(redis), leasesOf(other)];
    const keys = ['k1', 'k2', 'k3', 'k4'].map((k) => `burst_${k}`);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? here : there).take({ clientId: 'burst', keyId: keys[i % keys.length]!, streamId: `s${i}` })),
    );
    expect(results.filter((r) => r === 'taken')).toHaveLength(3);
    expect(results.filter((r) => r === 'key_full' || r === 'client_full')).toHaveLength(37);
    const byKey = (await Promise.all(keys.map((k) => members(names.leases(k))))).flat().sort();
    expect(byKey).toHaveLength(3);
    expect((await members(names.clientLeases('burst'))).sort()).toEqual(byKey);
  });

  it("a refusal by the client's bound takes no lease of the key; the key's own bound is checked first", async () => {
    const l = leasesOf(redis);
    const take = (keyId: string, streamId: string) => l.take({ clientId: 'full', keyId, streamId });
    expect([await take('full_a', 'a1'), await take('full_a', 'a2'), await take('full_b', 'b1')]).toEqual(['taken', 'taken', 'taken']);
    expect(await take('full_b', 'b2')).toBe('client_full');
    expect(await take('full_c', 'c1')).toBe('client_full');
    expect(await take('full_a', 'a3')).toBe('key_full');
    expect(await members(names.leases('full_b'))).toEqual(['b1']);
    expect(await redis.exists(names.leases('full_c'))).toBe(0);
    expect(await redis.zcard(names.clientLeases('full'))).toBe(3);
    // given back: the key that was refused gets its whole bound
    await l.release({ clientId: 'full', keyId: 'full_a', streamId: 'a1' });
    await l.release({ clientId: 'full', keyId: 'full_a', streamId: 'a2' });
    expect(await redis.exists(names.leases('full_a'))).toBe(0);
    expect([await take('full_c', 'c1'), await take('full_c', 'c2'), await take('full_c', 'c3')]).toEqual(['taken', 'taken', 'key_full']);
    // another client is not counted
    expect(await l.take({ clientId: 'elsewhere', keyId: 'else_a', streamId: 'e1' })).toBe('taken');
  });

  it("leases a dead process did not renew lapse after the TTL in both sets; renewed ones don't", async () => {
    let now = Date.now();
    const l = leasesOf(redis, () => now);
    const take = (keyId: string, streamId: string) => l.take({ clientId: 'lapse', keyId, streamId });
    expect([await take('lapse_a', 'a1'), await take('lapse_b', 'b1'), await take('lapse_b', 'b2')]).toEqual(['taken', 'taken', 'taken']);
    expect(await take('lapse_c', 'c1')).toBe('client_full');
    now += TTL - 1_000;
    // the process holding b1 and b2 died; a1's renews
    await l.renew([{ clientId: 'lapse', keyId: 'lapse_a', streamId: 'a1' }]);
    now += 2_000;
    expect(await take('lapse_c', 'c1')).toBe('taken');
    expect(await take('lapse_c', 'c2')).toBe('taken');
    expect(await take('lapse_b', 'b3')).toBe('client_full');
    expect((await members(names.clientLeases('lapse'))).sort()).toEqual(['a1', 'c1', 'c2']);
    expect(await members(names.leases('lapse_b'))).toEqual([]);
  });
});
