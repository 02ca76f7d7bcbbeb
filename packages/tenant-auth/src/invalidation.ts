import { createRedis, type RedisClient as Redis, type RedisTarget } from '@central-logger/redis';
import { KEY_INVALIDATION_CHANNEL } from '@central-logger/keys';
import type { Sql, Tx } from '@central-logger/db';
import type { TenantTokens, UserInvalidation } from './tokens.js';
import { deactivateTenantUser, type TenantUser } from './users.js';

/**
 * Announces a user's (or client's) deactivation on the channel keys already
 * use: every ingest-api forgets the cached state and refuses the user's
 * tokens from its next request. Key verifiers ignore `{userId}` messages.
 */
export async function publishUserInvalidation(redis: Redis, what: UserInvalidation): Promise<void> {
  await redis.publish(KEY_INVALIDATION_CHANNEL, JSON.stringify(what));
}

/**
 * Subscribes `tokens` to the key invalidation channel on its own connection;
 * as for keys, every (re)connect drops the whole cache, since messages sent
 * while disconnected are lost. Returns a function that disconnects.
 */
export function subscribeUserInvalidations(
  target: RedisTarget,
  tokens: TenantTokens,
  onError: (err: Error) => void,
  onSubscribed: () => void = () => {},
): () => Promise<void> {
  const sub = createRedis(target, { lazyConnect: true, maxRetriesPerRequest: null });
  sub.on('error', onError);
  sub.on('ready', () => tokens.invalidate({ all: true }));
  sub.on('message', (_channel: string, message: string) => {
    try {
      const what = JSON.parse(message) as unknown;
      tokens.invalidate(what && typeof what === 'object' ? (what as Record<string, unknown>) : { all: true });
    } catch {
      tokens.invalidate({ all: true });
    }
  });
  sub.connect().catch(onError);
  sub.subscribe(KEY_INVALIDATION_CHANNEL).then(onSubscribed, onError);
  return async () => {
    sub.disconnect();
  };
}

/**
 * Deactivates a user (with `inTransaction`, e.g. its audit row, in the same
 * transaction), then announces it; `announced` is false when Redis could not
 * take the message (the user's tokens then stop within KEY_CACHE_TTL_MS).
 */
export async function deactivateUserEverywhere(
  sql: Sql,
  redis: Redis,
  userId: string,
  inTransaction?: (tx: Tx, user: TenantUser) => Promise<void>,
): Promise<{ user: TenantUser | undefined; announced: boolean }> {
  const user = (await sql.begin(async (tx) => {
    const u = await deactivateTenantUser(tx as unknown as Tx, userId);
    if (u && inTransaction) await inTransaction(tx as unknown as Tx, u);
    return u;
  })) as TenantUser | undefined;
  if (!user) return { user, announced: false };
  const announced = await publishUserInvalidation(redis, { userId }).then(
    () => true,
    () => false,
  );
  return { user, announced };
}
