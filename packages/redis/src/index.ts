import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster; BullMQ and every store here take either. */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: one server (`url`), or a Redis Cluster (`clusterNodes`, some
 * of its nodes as `host:port` or `redis://[user:password@]host:port`; the
 * others are discovered). A plain string is one server's URL.
 */
export type RedisTarget = string | { url: string; clusterNodes?: readonly string[] | undefined };

/** The target of a process's config: REDIS_CLUSTER_NODES when set, else REDIS_URL. */
export function redisTarget(config: { REDIS_URL: string; REDIS_CLUSTER_NODES?: readonly string[] | undefined }): RedisTarget {
  return { url: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES };
}

/** Whether `target` names a cluster. */
export function isClusterTarget(target: RedisTarget): boolean {
  return typeof target !== 'string' && (target.clusterNodes?.length ?? 0) > 0;
}

/**
 * Every Redis connection of the service is made here: with cluster nodes a
 * `Cluster` (ioredis), else a `Redis`. `options` are one connection's: on a
 * cluster `enableOfflineQueue`, `lazyConnect` and `retryStrategy` apply to the
 * cluster (the latter as its `clusterRetryStrategy`), the rest to each node's
 * connection. Commands of a script or a MULTI must then keep their keys in
 * one slot (see `tenantKey`).
 */
export function createRedis(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  if (typeof target === 'string') return new Redis(target, options);
  if (!isClusterTarget(target)) return new Redis(target.url, options);
  const { enableOfflineQueue, lazyConnect, retryStrategy, ...nodeOptions } = options;
  const nodes = target.clusterNodes!.map(clusterNode);
  const credentials = nodes.find((n) => n.password !== undefined);
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    {
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      ...(retryStrategy !== undefined ? { clusterRetryStrategy: retryStrategy } : {}),
      // a failover takes seconds: commands wait for the new master briefly, then fail (503 on ingest)
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      redisOptions: {
        ...nodeOptions,
        ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
      },
    },
  );
}

interface NodeAddress {
  host: string;
  port: number;
  username?: string | undefined;
  password?: string | undefined;
}

/** `host:port` or `redis://[user:password@]host:port`. */
export function clusterNode(entry: string): NodeAddress {
  const url = new URL(entry.includes('://') ? entry : `redis://${entry}`);
  const port = Number(url.port || 6379);
  if (!url.hostname || !Number.isInteger(port)) throw new Error(`not a host:port: ${entry}`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

/** Whether `redis` is a cluster connection. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * A key of one tenant's, `<prefix>:<rest>`. On one Redis that is all (the
 * names of before clusters). On a cluster the prefix's hash tag (`{cl}`) is
 * replaced by one of the tenant's (`{cl:<client>}`), so all the keys of one
 * tenant that one script call touches share a slot, and tenants spread over
 * the masters; a prefix without a tag gets `{<client>}` after it.
 */
export function tenantKey(redis: RedisClient, prefix: string, clientId: string, rest: string): string {
  if (!isCluster(redis)) return `${prefix}:${rest}`;
  return `${tenantTagged(prefix, clientId)}:${rest}`;
}

/** `prefix` with its hash tag made the tenant's (see tenantKey). */
export function tenantTagged(prefix: string, clientId: string): string {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  if (close < 0) return `${prefix}:{${clientId}}`;
  return `${prefix.slice(0, close)}:${clientId}${prefix.slice(close)}`;
}

/**
 * Waits until the writes made so far on the connection that holds `key`
 * reached `replicas` replicas (Redis `WAIT`), at most `timeoutMs`; returns
 * how many did. On a cluster the `WAIT` goes, in one pipeline with a read of
 * `key`, to the master of `key`'s slot: the connection that wrote it.
 */
export async function waitForReplicas(redis: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  const results = await redis.pipeline().exists(key).call('WAIT', replicas, timeoutMs).exec();
  const [err, acked] = results?.[1] ?? [new Error('WAIT gave no answer'), 0];
  if (err) throw err;
  return Number(acked);
}

/** Deletes every key under `prefix` (a test's or a benchmark's run), a SCAN page at a time, on every master of a cluster. */
export async function deleteKeysUnder(redis: RedisClient, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[{}*?[\]]/g, '\\$&')}:*`;
  for (const node of isCluster(redis) ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      // on a cluster one DEL per key: the keys of one page may be in many slots
      if (keys.length) await (isCluster(redis) ? Promise.all(keys.map((k) => node.del(k))) : node.del(...keys));
      cursor = next;
    } while (cursor !== '0');
  }
}
