import type { Redis } from 'ioredis';
import type { Sql } from '@central-logger/db';
import { AppError, isAppError } from '@central-logger/errors';
import type { Logger } from '@central-logger/http';
import type { Principal } from '@central-logger/keys';
import { headlineState, recordQuotaWarning, utcDay, type LimitState, type LimitsResolver, type RateDecision, type RateLimiter } from '@central-logger/limits';
import type { BacklogMonitor } from '@central-logger/queue';

/**
 * What an ingest request must pass before its events are queued:
 * backpressure, then the rate limits of its key and the quota of its client.
 */
export interface AdmissionDeps {
  redis: Redis;
  backlog: BacklogMonitor;
  /** Retry-After (s) of a 503. */
  retryAfterS: number;
  limiter: RateLimiter;
  limits: LimitsResolver;
  sql: Sql;
  log: Logger;
}

type SetHeader = (name: string, value: string) => void;

/**
 * Refuses work the service may not keep: 503 unavailable with Retry-After
 * while Redis is unreachable, the queue's backlog is over its bound, or Redis
 * nears its maxmemory. Costs no Redis round trip: the connection status and the
 * last backlog sample.
 */
export function refuseWhenOverloaded(deps: AdmissionDeps): void {
  if (deps.redis.status !== 'ready') throw unavailable(deps, 'The queue cannot take events right now; retry later');
  const overload = deps.backlog.overload();
  if (overload === 'backlog') throw unavailable(deps, 'The service is catching up with its backlog; retry later');
  if (overload === 'memory') throw unavailable(deps, 'The queue is nearly out of memory; retry later');
}

function unavailable(deps: AdmissionDeps, message: string): AppError {
  return new AppError('unavailable', message, { headers: { 'Retry-After': String(deps.retryAfterS) } });
}

/**
 * Takes one request and `events` events from the key's limits (one Redis
 * round trip, shared by the requests of an event-loop turn) and shows the
 * limits' state in RateLimit-* headers; 429 rate_limited with Retry-After
 * when over.
 */
export async function admit(deps: AdmissionDeps, principal: Principal, events: number, setHeader: SetHeader): Promise<void> {
  const clientId = principal.clientId!;
  const limits = deps.limits.cached(clientId) ?? (await deps.limits.limitsOf(clientId));
  let decision: RateDecision;
  try {
    decision = await deps.limiter.take({ clientId, keyId: principal.keyId, events, limits });
  } catch (cause) {
    throw new AppError('unavailable', 'Rate limits cannot be checked right now; retry later', { headers: { 'Retry-After': '5' }, cause });
  }
  showLimits(headlineState(decision), setHeader);
  for (const threshold of decision.warnings) {
    recordQuotaWarning(deps.sql, clientId, utcDay(Date.now()), threshold, decision.usedToday, limits.eventsPerDay).catch((err: Error) =>
      deps.log.error({ err: err.message, client_id: clientId, threshold }, 'could not record a quota warning'),
    );
  }
  if (decision.verdict === 'ok') return;
  throw new AppError('rate_limited', overMessage(decision, limits), {
    headers: { 'Retry-After': String(decision.retryAfterS) },
  });
}

/**
 * For a request refused after authentication but before `admit` (invalid
 * body, too large, backpressure): a refusal still takes a request token, so
 * a flood of bad requests is limited too, and every answer carries
 * RateLimit-*. Returns the error to answer with: a 429 once over the limit,
 * otherwise `err` (also when Redis cannot say).
 */
export async function refusedBeforeAdmission(deps: AdmissionDeps, principal: Principal, err: unknown, setHeader: SetHeader): Promise<unknown> {
  if (!isAppError(err)) return err;
  if (err.status >= 500) {
    // a 503 from backpressure: the limits' state, taking nothing
    try {
      const clientId = principal.clientId!;
      const decision = await deps.limiter.peek({ clientId, keyId: principal.keyId, limits: await deps.limits.limitsOf(clientId) });
      showLimits(headlineState(decision), setHeader);
    } catch {
      // Redis is what failed; the 503 goes out without RateLimit-*
    }
    return err;
  }
  try {
    await admit(deps, principal, 0, setHeader);
  } catch (over) {
    if (isAppError(over) && over.code === 'rate_limited') return over;
  }
  return err;
}

function showLimits(state: LimitState, setHeader: SetHeader): void {
  setHeader('RateLimit-Limit', String(state.limit));
  setHeader('RateLimit-Remaining', String(state.remaining));
  setHeader('RateLimit-Reset', String(state.resetS));
}

function overMessage(d: RateDecision, l: { requestsPerSecond: number; eventsPerSecond: number; eventsPerDay: number }): string {
  if (d.verdict === 'requests') return `Rate limit exceeded: at most ${l.requestsPerSecond} requests per second per key`;
  if (d.verdict === 'events') return `Rate limit exceeded: at most ${l.eventsPerSecond} events per second per key`;
  return `Daily quota exceeded: at most ${l.eventsPerDay} events per day; it resets at midnight UTC`;
}
