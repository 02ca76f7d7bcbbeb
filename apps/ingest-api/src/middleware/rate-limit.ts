import type { Context, Next } from 'koa';
import { AppError, isAppError } from '@central-logger/errors';
import type { Logger } from '@central-logger/http';
import { headlineState, recordQuotaWarning, utcDay, type LimitState, type LimitsResolver, type RateDecision, type RateLimiter } from '@central-logger/limits';
import type { Sql } from '@central-logger/db';

declare module 'koa' {
  interface DefaultState {
    /** Takes one request and `events` events from the key's limits; throws 429 when over. */
    admit?: (events: number) => Promise<void>;
  }
}

export interface RateLimitDeps {
  limiter: RateLimiter;
  limits: LimitsResolver;
  sql: Sql;
  log: Logger;
}

/**
 * Rate limits for ingest, after authentication: one Redis round trip per
 * request. The route calls `ctx.state.admit(n)` once it knows the request's
 * event count; a request that fails before that (invalid body, too large)
 * still counts as a request (with no events), so every response after
 * authentication carries RateLimit-* headers and a flood of bad requests is
 * limited too.
 */
export function rateLimit(deps: RateLimitDeps) {
  return async function limitRate(ctx: Context, next: Next): Promise<void> {
    let admitted = false;
    ctx.state.admit = async (events: number) => {
      admitted = true;
      await admit(ctx, deps, events);
    };
    try {
      await next();
    } catch (err) {
      if (!admitted && isAppError(err)) {
        if (err.status < 500) await countRefused(ctx, deps);
        else await showState(ctx, deps);
      }
      throw err;
    }
  };
}

/** A refused request still takes a request token; over the limit it becomes a 429, but Redis trouble keeps the original answer. */
async function countRefused(ctx: Context, deps: RateLimitDeps): Promise<void> {
  try {
    await admit(ctx, deps, 0);
  } catch (err) {
    if (isAppError(err) && err.code === 'rate_limited') throw err;
  }
}

/** For a 503 sent before the limits were checked (backpressure): their state, taking nothing; nothing when Redis cannot say. */
async function showState(ctx: Context, deps: RateLimitDeps): Promise<void> {
  const { clientId, keyId } = ctx.state.principal;
  try {
    const decision = await deps.limiter.peek({ clientId: clientId!, keyId, limits: await deps.limits.limitsOf(clientId!) });
    setHeaders(ctx, headlineState(decision));
  } catch {
    // Redis is what failed; the 503 goes out without RateLimit-*
  }
}

function setHeaders(ctx: Context, state: LimitState): void {
  ctx.set('RateLimit-Limit', String(state.limit));
  ctx.set('RateLimit-Remaining', String(state.remaining));
  ctx.set('RateLimit-Reset', String(state.resetS));
}

async function admit(ctx: Context, deps: RateLimitDeps, events: number): Promise<void> {
  const { clientId, keyId } = ctx.state.principal;
  const limits = await deps.limits.limitsOf(clientId!);
  let decision: RateDecision;
  try {
    decision = await deps.limiter.take({ clientId: clientId!, keyId, events, limits });
  } catch (cause) {
    throw new AppError('unavailable', 'Rate limits cannot be checked right now; retry later', { headers: { 'Retry-After': '5' }, cause });
  }
  const state = headlineState(decision);
  setHeaders(ctx, state);
  for (const threshold of decision.warnings) {
    recordQuotaWarning(deps.sql, clientId!, utcDay(Date.now()), threshold, decision.usedToday, limits.eventsPerDay).catch((err: Error) =>
      deps.log.error({ err: err.message, client_id: clientId, threshold }, 'could not record a quota warning'),
    );
  }
  if (decision.verdict === 'ok') return;
  throw new AppError('rate_limited', overMessage(decision, limits), {
    headers: { 'Retry-After': String(decision.retryAfterS) },
  });
}

function overMessage(d: RateDecision, l: { requestsPerSecond: number; eventsPerSecond: number; eventsPerDay: number }): string {
  if (d.verdict === 'requests') return `Rate limit exceeded: at most ${l.requestsPerSecond} requests per second per key`;
  if (d.verdict === 'events') return `Rate limit exceeded: at most ${l.eventsPerSecond} events per second per key`;
  return `Daily quota exceeded: at most ${l.eventsPerDay} events per day; it resets at midnight UTC`;
}
