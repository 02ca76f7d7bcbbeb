import { createRedis, type RedisClient as Redis, type RedisTarget } from '@central-logger/redis';
import type { Invalidation, KeyVerifier } from './verifier.js';

/** Redis pub/sub channel on which key and client changes are announced. */
export const KEY_INVALIDATION_CHANNEL = 'central-logger:key-invalidation';

/** Tells every process to forget cached keys. Throws if Redis cannot take the message. */
export async function publishInvalidation(redis: Redis, what: Invalidation): Promise<void> {
  await redis.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify(what));
}

/**
 * Subscribes a verifier to invalidations on a dedicated connection (on a
 * Redis Cluster, classic pub/sub: a message published on any node reaches
 * subscribers on every node). On every
 * (re)connect the whole cache is dropped, because messages sent while
 * disconnected are lost. Returns a function that unsubscribes and disconnects.
 */
export function subscribeInvalidations(
  target: RedisTarget,
  verifier: KeyVerifier,
  onError: (err: Error) => void,
  onSubscribed: () => void = () => {},
): () => Promise<void> {
  const sub = createRedis(target, { lazyConnect: true, maxRetriesPerRequest: null });
  sub.on('error', onError);
  sub.on('ready', () => verifier.invalidate({ all: true }));
  sub.on('message', (_channel: string, message: string) => {
    try {
      verifier.invalidate(JSON.parse(message) as Invalidation);
    } catch {
      verifier.invalidate({ all: true });
    }
  });
  // queued until Redis answers, and re-sent by ioredis after every reconnect;
  // starting does not wait for Redis, so ingest can come up (and answer 503) without it
  sub.connect().catch(onError);
  sub.subscribe(KEY_INVALIDATION_CHANNEL).then(onSubscribed, onError);
  return async () => {
    sub.disconnect();
  };
}
