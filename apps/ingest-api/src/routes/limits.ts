import type { Context } from 'koa';
import { AppError } from '@central-logger/errors';
import { msToNextUtcDay, utcDay, type LimitsResolver, type RateLimiter } from '@central-logger/limits';

/**
 * `GET /api/v1/limits` (any tenant key): the limits that apply to the key's
 * tenant (defaults with its overrides) and its events today.
 */
export function getLimits(limits: LimitsResolver, limiter: RateLimiter) {
  return async function showLimits(ctx: Context): Promise<void> {
    const clientId = ctx.state.principal.clientId!;
    const now = Date.now();
    const l = await limits.limitsOf(clientId);
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
      },
      usage: {
        day: utcDay(now),
        events_today: used,
        events_remaining_today: Math.max(0, l.eventsPerDay - used),
        resets_at: new Date(now + msToNextUtcDay(now)).toISOString(),
      },
    };
  };
}
