import type { Context } from 'koa';
import { isUnavailable, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { countUsableKeys } from '@central-logger/keys';
import { msToNextUtcDay, utcDay, type LimitsResolver, type RateLimiter } from '@central-logger/limits';

/** The bounds on what a tenant holds at once (MAX_KEYS_PER_CLIENT, MAX_TAILS_PER_KEY, MAX_TAILS_PER_CLIENT). */
export interface HoldingBounds {
  maxKeys: number;
  maxTailsPerKey: number;
  maxTailsPerClient: number;
}

/**
 * `GET /api/v1/limits` (any tenant key): the limits that apply to the key's
 * tenant (defaults with its overrides), its events today, and the bounds on
 * what it holds at once with its usable keys, so that a tenant sees the key
 * cap before a create is refused.
 */
export function getLimits(limits: LimitsResolver, limiter: RateLimiter, sql: Sql, bounds: HoldingBounds) {
  return async function showLimits(ctx: Context): Promise<void> {
    const clientId = ctx.state.principal.clientId!;
    const now = Date.now();
    // with Postgres unreachable the limits are the last known (LimitsResolver) and the key count is null
    const [l, usableKeys] = await Promise.all([
      limits.limitsOf(clientId),
      countUsableKeys(sql, clientId).catch((err: unknown) => {
        if (isUnavailable(err)) return null;
        throw err;
      }),
    ]);
    let used: number;
    try {
      used = await limiter.usedToday(clientId, now);
    } catch (cause) {
      throw new AppError('unavailable', 'Usage cannot be read right now; retry later', { headers: { 'Retry-After': '5' }, cause });
    }
    ctx.body = {
      client_id: clientId,
      limits: {
        per_key: {
          requests_per_second: l.requestsPerSecond,
          request_burst: l.requestBurst,
          events_per_second: l.eventsPerSecond,
          event_burst: l.eventBurst,
        },
        per_client: { events_per_second: l.tenantEventsPerSecond, event_burst: l.tenantEventBurst, events_per_day: l.eventsPerDay },
        keys: bounds.maxKeys,
        live_tails: { per_key: bounds.maxTailsPerKey, per_client: bounds.maxTailsPerClient },
      },
      usage: {
        day: utcDay(now),
        events_today: used,
        events_remaining_today: Math.max(0, l.eventsPerDay - used),
        resets_at: new Date(now + msToNextUtcDay(now)).toISOString(),
        keys: usableKeys,
      },
    };
  };
}
