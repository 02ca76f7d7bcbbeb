import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, limitReached } from '@central-logger/errors';

export interface LoginLimits {
  perIp: number;
  perUser: number;
  windowMs: number;
}

/**
 * Failed admin sign-ins, counted in Redis per address and per username, so
 * that every admin process sees the same counts. Only failures count; a
 * successful sign-in clears its username's count (not its address's, or an
 * attacker with one valid account could reset their own address).
 */
export class LoginLimiter {
  private readonly byIp: RateLimiterRedis;
  private readonly byUser: RateLimiterRedis;

  constructor(redis: Redis, keyPrefix: string, limits: LoginLimits) {
    const duration = Math.ceil(limits.windowMs / 1000);
    this.byIp = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:admin-login:ip`, points: limits.perIp, duration });
    this.byUser = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:admin-login:user`, points: limits.perUser, duration });
  }

  /** Throws 429 with Retry-After when the address or the username has used up its failures. */
  async check(ip: string, username: string): Promise<void> {
    const [ip_, user] = await guard(Promise.all([this.byIp.get(ip), this.byUser.get(userKey(username))]));
    const blocked = [[ip_, this.byIp.points], [user, this.byUser.points]] as const;
    // the limit that keeps the caller out longest is the one the headers show
    const over = blocked.filter(([res, points]) => res && res.consumedPoints >= points).sort(([a], [b]) => b!.msBeforeNext - a!.msBeforeNext)[0];
    if (!over) return;
    throw limitReached('Too many failed sign-ins; try again later', over[1], over[0]!.msBeforeNext);
  }

  async fail(ip: string, username: string): Promise<void> {
    // a rejection only says the limit is now reached: the next check answers 429
    const swallowLimit = (err: unknown) => {
      if (!(err instanceof RateLimiterRes)) throw err;
    };
    await guard(Promise.all([this.byIp.consume(ip).catch(swallowLimit), this.byUser.consume(userKey(username)).catch(swallowLimit)]));
  }

  async succeed(username: string): Promise<void> {
    await guard(this.byUser.delete(userKey(username)));
  }
}

function userKey(username: string): string {
  return encodeURIComponent(username.slice(0, 128));
}

/** Without Redis the limits cannot hold, so sign-in fails closed. */
async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw new AppError('unavailable', 'Sign-in is unavailable right now; try again shortly', { headers: { 'Retry-After': '5' }, cause: err });
  }
}
