import type { Context, Next } from 'koa';
import type { Redis } from 'ioredis';
import { AppError } from '@central-logger/errors';
import type { BacklogMonitor } from '@central-logger/queue';

/**
 * Refuses work the service may not keep: 503 unavailable with Retry-After
 * while Redis is unreachable or the queue's backlog is over its bound. Costs
 * no Redis round trip: the connection status and the last backlog sample.
 */
export function backpressure(redis: Redis, backlog: BacklogMonitor, retryAfterS: number) {
  const headers = { 'Retry-After': String(retryAfterS) };
  return async function refuseWhenOverloaded(ctx: Context, next: Next): Promise<void> {
    if (redis.status !== 'ready') {
      throw new AppError('unavailable', 'The queue cannot take events right now; retry later', { headers });
    }
    if (backlog.overloaded()) {
      throw new AppError('unavailable', 'The service is catching up with its backlog; retry later', { headers });
    }
    await next();
  };
}
