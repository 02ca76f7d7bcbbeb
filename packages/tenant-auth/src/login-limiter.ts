import type { RedisClient as Redis } from '@central-logger/redis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError, limitReached } from '@central-logger/errors';

export interface LoginLimits {
  perIp: number;
  perUser: number;
  windowMs: number;
}

/** The tokens one sign-in attempt holds: spent on failure, handed back on success. */
export interface LoginTicket {
  /** The password was right: the address gets its token back and the username's count is cleared. */
  succeed(): Promise<void>;
  /** No password was checked after all (an unexpected error): both tokens go back. */
  release(): Promise<void>;
}

/**
 * Sign-in attempts (admins', and tenant users'), counted in Redis per address and per username so
 * that every process sees the same counts. A token is taken from both
 * (atomically, in Redis) before the password is checked, so a burst of
 * concurrent attempts checks at most as many passwords as the limit allows
 * (checking first and counting after let 60 parallel
 * guesses through). A right password hands its address token back and
 * clears its username's count, never its address's, or an attacker with one
 * valid account could reset their own address.
 */
export class LoginLimiter {
  private readonly byIp: RateLimiterRedis;
  private readonly byUser: RateLimiterRedis;

  /** `name` keeps apart the counts of different sign-ins (default `admin-login`; the tenant one is `tenant-login`). */
  constructor(redis: Redis, keyPrefix: string, limits: LoginLimits, name = 'admin-login') {
    const duration = Math.ceil(limits.windowMs / 1000);
    this.byIp = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:${name}:ip`, points: limits.perIp, duration });
    this.byUser = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${keyPrefix}:${name}:user`, points: limits.perUser, duration });
  }

  /**
   * Takes one token from the address and one from the username before any
   * password is checked; throws 429 with Retry-After and RateLimit-* when
   * either has none left (handing back the other's token: no password was
   * checked), or 503 when Redis cannot say.
   */
  async take(ip: string, username: string): Promise<LoginTicket> {
    const user = userKey(username);
    const [byIp, byUser] = await Promise.allSettled([this.byIp.consume(ip), this.byUser.consume(user)]);
    const refused = [
      [byIp, this.byIp.points],
      [byUser, this.byUser.points],
    ] as const;
    const broken = refused.find(([r]) => r.status === 'rejected' && !(r.reason instanceof RateLimiterRes));
    const over = refused
      .filter(([r]) => r.status === 'rejected' && r.reason instanceof RateLimiterRes)
      .map(([r, points]) => [(r as PromiseRejectedResult).reason as RateLimiterRes, points] as const)
      // the limit that keeps the caller out longest is the one the headers show
      .sort(([a], [b]) => b.msBeforeNext - a.msBeforeNext)[0];
    if (broken || over) {
      await this.giveBack(byIp.status === 'fulfilled' ? ip : undefined, byUser.status === 'fulfilled' ? user : undefined);
      if (broken) throw unavailable((broken[0] as PromiseRejectedResult).reason);
      throw limitReached('Too many failed sign-ins; try again later', over![1], over![0].msBeforeNext);
    }
    return {
      // best effort: if Redis fails here the tokens just stay spent, and a right password still signs in
      succeed: () => Promise.allSettled([this.byIp.reward(ip), this.byUser.delete(user)]).then(() => {}),
      release: () => this.giveBack(ip, user),
    };
  }

  // best effort: a token that cannot be handed back expires with its window
  private async giveBack(ip: string | undefined, user: string | undefined): Promise<void> {
    await Promise.allSettled([ip !== undefined && this.byIp.reward(ip), user !== undefined && this.byUser.reward(user)]);
  }
}

function userKey(username: string): string {
  return encodeURIComponent(username.slice(0, 128));
}

/** Without Redis the limits cannot hold, so sign-in fails closed. */
function unavailable(cause: unknown): AppError {
  return new AppError('unavailable', 'Sign-in is unavailable right now; try again shortly', { headers: { 'Retry-After': '5' }, cause });
}
