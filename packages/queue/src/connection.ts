import { Redis, type RedisOptions } from 'ioredis';

/**
 * For producers on the request path: commands fail at once while Redis is
 * unreachable (no offline queue, one try), so ingest answers 503 instead of
 * hanging. ioredis keeps reconnecting in the background.
 */
export function producerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...extra,
  });
}

/** For workers: blocking commands, so never give up on a request (BullMQ requires it). */
export function workerConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
}

/** Deletes every Redis key under a queue prefix (a test's or a benchmark's run), a SCAN page at a time. */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[{}*?[\]]/g, '\\$&')}:*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
