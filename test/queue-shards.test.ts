import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogsProducer, producerConnection, shardOf, shardPrefix, shardPrefixes } from '@central-logger/queue';
import { tenantKey, tenantTagged } from '@central-logger/redis';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { createTenant, deleteRedisKeys, event, postLogs, REDIS_URL, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

describe('queue shard names and the tenant → shard map', () => {
  it("keeps shard 0 under the prefix itself (QUEUE_SHARDS=1 is the layout of before) and gives shard n the prefix's tag suffixed -n", () => {
    expect(shardPrefix('{cl}', 0)).toBe('{cl}');
    expect(shardPrefixes('{cl}', 3)).toEqual(['{cl}', '{cl-1}', '{cl-2}']);
    expect(shardPrefix('app:{cl}:x', 2)).toBe('app:{cl-2}:x');
    expect(shardPrefix('plain', 1)).toBe('plain-1');
  });

  it('maps a tenant to one shard, the same every time, and spreads tenants over all shards', () => {
    expect(shardOf('acme', 1)).toBe(0);
    const ids = Array.from({ length: 300 }, (_, i) => `client_${i}`);
    const counts = [0, 0, 0];
    for (const id of ids) {
      const s = shardOf(id, 3);
      expect(shardOf(id, 3)).toBe(s);
      counts[s]! += 1;
    }
    // FNV-1a over 300 ids: each shard gets a fair part (an unbalanced hash would leave one near empty)
    for (const n of counts) expect(n).toBeGreaterThan(60);
  });

  it("tags a tenant's keys with the tenant only on a cluster, and keeps one Redis's names", () => {
    const one = new Redis(REDIS_URL, { lazyConnect: true });
    expect(tenantKey(one, '{cl}:ingest', 'c1', 'rl:t:c1')).toBe('{cl}:ingest:rl:t:c1');
    one.disconnect();
    expect(tenantTagged('{cl}:ingest', 'c1')).toBe('{cl:c1}:ingest');
    expect(tenantTagged('plain', 'c1')).toBe('plain:{c1}');
  });
});

describe('QUEUE_SHARDS=3 on one Redis', () => {
  let db: TestDatabase;
  let stack: Stack;

  beforeAll(async () => {
    db = await createTestDatabase();
    stack = await startStack(db, { QUEUE_SHARDS: '3' });
  });
  afterAll(async () => {
    await stack?.close();
    for (const p of shardPrefixes(stack.env.QUEUE_PREFIX!, 3).slice(1)) await deleteRedisKeys(p);
    await db?.drop();
  });

  it("puts each tenant's jobs in its own shard's queue, in order, and the worker stores every shard's events", async () => {
    const tenants: Tenant[] = [];
    // tenants until every shard has one
    while (new Set(tenants.map((t) => shardOf(t.clientId, 3))).size < 3) tenants.push(await createTenant(db.sql, 'agent', 'shard'));
    const perTenant = 10;
    // a stored job is deleted at once: each shard's jobs are seen as its lane workers complete them
    const completed: Array<Array<{ id?: string; timestamp: number; data: unknown }>> = [[], [], []];
    stack.worker!.workers.forEach((w, i) => {
      w.on('completed', (job) => completed[Math.floor(i / 2)]!.push(job));
    });
    // each key's first use verifies it (bcrypt), one at a time from one address
    for (const t of tenants) expect((await postLogs(stack.baseUrl, t.key, event({ event_id: 'e000', message: '0' }))).status).toBe(202);
    await Promise.all(
      tenants.map(async (t) => {
        for (let i = 1; i < perTenant; i++) {
          const res = await postLogs(stack.baseUrl, t.key, event({ event_id: `e${String(i).padStart(3, '0')}`, message: `${i}` }));
          expect(res.status, JSON.stringify(res.body)).toBe(202);
        }
      }),
    );
    const expected = tenants.length * perTenant;
    await waitFor(async () => Number((await db.sql`select count(*)::int as n from workflow_logs`)[0]!.n) === expected, 20_000, 'every event stored');

    for (let shard = 0; shard < 3; shard++) {
      const jobs = completed[shard]!;
      const clients = new Set(jobs.flatMap((j) => (j.data as { groups: Array<{ client_id: string }> }).groups.map((g) => g.client_id)));
      const mine = tenants.filter((t) => shardOf(t.clientId, 3) === shard).map((t) => t.clientId);
      // every job of this shard holds only this shard's tenants, and each of them had jobs here
      expect([...clients].sort()).toEqual([...mine].sort());
      // one tenant's jobs are stored one after another in the order they were added
      for (const clientId of mine) {
        const ids = jobs
          .filter((j) => (j.data as { groups: Array<{ client_id: string }> }).groups.some((g) => g.client_id === clientId))
          .sort((a, b) => a.timestamp - b.timestamp || Number(a.id) - Number(b.id))
          .flatMap((j) =>
            (j.data as { groups: Array<{ client_id: string; events: Array<{ event_id: string }> }> }).groups.filter((g) => g.client_id === clientId),
          )
          .flatMap((g) => g.events.map((e) => e.event_id));
        expect(ids).toEqual([...ids].sort());
        expect(ids).toHaveLength(perTenant);
      }
    }
    // the default queue names under shard 0 are the ones of before
    expect(stack.queue.name).toBe('logs');
    expect(stack.worker!.workers.map((w) => w.opts.prefix)).toEqual(shardPrefixes(stack.env.QUEUE_PREFIX!, 3).flatMap((p) => [p, p]));
  }, 90_000);
});

describe('REDIS_WAIT_REPLICAS on a Redis without replicas', () => {
  it('answers 503 (unavailable, Retry-After) when the job reached no replica in time, and resolves with 0 asked', async () => {
    const prefix = `{wait${Date.now()}}`;
    const redis = producerConnection(REDIS_URL);
    await waitFor(async () => redis.status === 'ready', 5_000, 'redis ready');
    const job = { groups: [{ client_id: 'c', key_id: 'k', received_at: new Date().toISOString(), events: [] as never[] }] };
    const waiting = new LogsProducer(redis, prefix, { attempts: 1, backoffMs: 10, timeoutMs: 300, waitReplicas: 1 });
    const plain = new LogsProducer(redis, prefix, { attempts: 1, backoffMs: 10, timeoutMs: 300 });
    try {
      const err = await waiting.enqueue(job).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'unavailable', headers: { 'Retry-After': '5' } });
      // the job is stored: what refused it was the wait for a replica (the client's retry is deduplicated by event_id)
      expect(await waiting.queue.getWaitingCount()).toBe(1);
      await expect(plain.enqueue(job)).resolves.toBeUndefined();
      expect(await plain.queue.getWaitingCount()).toBe(2);
    } finally {
      await waiting.close();
      await plain.close();
      redis.disconnect();
      await deleteRedisKeys(prefix);
    }
  });
});
