import type { RedisOptions } from 'ioredis';
import { createRedis, type RedisClient, type RedisTarget } from '@central-logger/redis';

export { deleteKeysUnder } from '@central-logger/redis';

/**
 * For producers on the request path: commands fail at once while Redis is
 * unreachable (no offline queue, one try), so ingest answers 503 instead of
 * hanging. ioredis keeps reconnecting in the background.
 */
export function producerConnection(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  return createRedis(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
    ...extra,
  });
}

/** For workers: blocking commands, so never give up on a request (BullMQ requires it). */
export function workerConnection(target: RedisTarget, extra: RedisOptions = {}): RedisClient {
  return createRedis(target, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    ...extra,
  });
}
