import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKeyEverywhere } from '@central-logger/keys';
import { LogsProducer, producerConnection, shardOf, shardPrefixes } from '@central-logger/queue';
import { createRedis, tenantTagged, type RedisClient } from '@central-logger/redis';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startLocalCluster, type LocalCluster } from './support/redis-cluster.js';
import { openTail } from './support/sse.js';
import { createTenant, event, postLogs, startStack, waitFor, type Stack, type Tenant } from './support/stack.js';

// The whole service on a Redis Cluster of its own (3 masters, 3 replicas): REDIS_CLUSTER_NODES makes every
// connection a cluster connection, QUEUE_SHARDS=3 spreads the log queues over the masters.
let cluster: LocalCluster;
let db: TestDatabase;
let stack: Stack;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startLocalCluster();
  db = await createTestDatabase();
  // a long key cache: only the invalidation over pub/sub can end a revoked key's requests within the test
  stack = await startStack(db, { REDIS_CLUSTER_NODES: cluster.env, QUEUE_SHARDS: '3', KEY_CACHE_TTL_MS: '600000' });
  redis = createRedis({ url: 'redis://unused', clusterNodes: cluster.nodes }, { maxRetriesPerRequest: 3 });
}, 120_000);
afterAll(async () => {
  await stack?.close();
  redis?.disconnect();
  await db?.drop();
  await cluster?.destroy();
});

describe('the service on a Redis Cluster', () => {
  it('ingests into queue shards on different masters, and the worker stores every event in Postgres', async () => {
    const prefix = stack.env.QUEUE_PREFIX!;
    const masters = await Promise.all(shardPrefixes(prefix, 3).map((p) => cluster.masterOf(`${p}:logs:id`)));
    const tenants: Tenant[] = [];
    while (new Set(tenants.map((t) => shardOf(t.clientId, 3))).size < 3) tenants.push(await createTenant(db.sql, 'agent', 'cl'));
    for (const t of tenants) {
      const res = await postLogs(stack.baseUrl, t.key, [event({ event_id: 'a' }), event({ event_id: 'b' })]);
      expect(res.status, JSON.stringify(res.body)).toBe(202);
    }
    await waitFor(async () => Number((await db.sql`select count(*)::int as n from workflow_logs`)[0]!.n) === tenants.length * 2, 20_000, 'every event stored');
    // each shard's queue took jobs, on the master of its own hash tag
    for (const [shard, p] of shardPrefixes(prefix, 3).entries()) {
      const id = await redis.get(`${p}:logs:id`);
      expect(Number(id), `shard ${shard}`).toBeGreaterThan(0);
    }
    // the three tags ({t…}, {t…-1}, {t…-2}) hash to slots of at least two masters: the load spreads
    expect(new Set(masters).size).toBeGreaterThan(1);
  });

  it("keeps the rate limiter's keys of one tenant under the tenant's hash tag (one slot per call)", async () => {
    const t = await createTenant(db.sql, 'agent', 'rl');
    const res = await postLogs(stack.baseUrl, t.key, event());
    expect(res.status).toBe(202);
    const tagged = tenantTagged(`${stack.env.QUEUE_PREFIX}:ingest`, t.clientId);
    expect(await redis.exists(`${tagged}:rl:t:${t.clientId}`)).toBe(1);
    expect(await redis.exists(`${tagged}:rl:k:${t.record.id}`)).toBe(1);
    expect(Number(await redis.get(`${tagged}:rl:d:${t.clientId}:${new Date().toISOString().slice(0, 10)}`))).toBe(1);
  });

  it('serves a live tail: a stored event reaches the stream over the announcement channel', async () => {
    const owner = await createTenant(db.sql, 'owner', 'tail');
    const tail = await openTail(stack.baseUrl, owner.key);
    try {
      expect(tail.status).toBe(200);
      await tail.until((m) => m.length > 0, 10_000, 'the opening message');
      expect((await postLogs(stack.baseUrl, owner.key, event({ event_id: 'live-1', message: 'over the cluster' }))).status).toBe(202);
      await tail.until(() => tail.logs().some((l) => l.event_id === 'live-1'), 15_000, 'the tailed event');
    } finally {
      tail.close();
    }
  });

  it('ends a revoked key at once on every process: the invalidation is published on the cluster and heard by the subscriber', async () => {
    const t = await createTenant(db.sql, 'agent', 'rev');
    expect((await postLogs(stack.baseUrl, t.key, event())).status).toBe(202);
    // from another node's connection than the subscriber's, as the admin app would
    const publisher = producerConnection({ url: 'redis://unused', clusterNodes: [cluster.nodes[5]!] });
    try {
      await waitFor(async () => publisher.status === 'ready', 10_000, 'publisher ready');
      await revokeKeyEverywhere(db.sql, publisher, t.record.id);
    } finally {
      publisher.disconnect();
    }
    const res = await waitFor(
      async () => {
        const r = await postLogs(stack.baseUrl, t.key, event());
        return r.status === 401 ? r : undefined;
      },
      5_000,
      'the revoked key refused',
    );
    expect(res.body.error).toBe('api_key_revoked');
  });

  it("with REDIS_WAIT_REPLICAS=1 stores a job only once the master of its shard's slot got a replica's acknowledgement", async () => {
    const conn = producerConnection({ url: 'redis://unused', clusterNodes: cluster.nodes });
    await waitFor(async () => conn.status === 'ready', 10_000, 'cluster connection ready');
    const prefix = `${stack.env.QUEUE_PREFIX}w`.replace('}w', 'w}');
    const producer = new LogsProducer(conn, prefix, { attempts: 1, backoffMs: 10, timeoutMs: 5_000, shards: 3, waitReplicas: 1 });
    try {
      const job = { groups: [{ client_id: 'c', key_id: 'k', received_at: new Date().toISOString(), events: [] as never[] }] };
      for (let shard = 0; shard < 3; shard++) await producer.enqueue(job, 'fast', shard);
      for (const q of producer.lanes.fast) expect(await q.getWaitingCount()).toBe(1);
      // two replicas are more than any master has: refused in time, as a 503
      const greedy = new LogsProducer(conn, prefix, { attempts: 1, backoffMs: 10, timeoutMs: 500, shards: 3, waitReplicas: 2 });
      await expect(greedy.enqueue(job, 'fast', 1)).rejects.toMatchObject({ code: 'unavailable' });
      await greedy.close();
    } finally {
      await producer.close();
      conn.disconnect();
    }
  });
});
