import type { RedisClient as Redis } from '@central-logger/redis';
import type { Sql } from '@central-logger/db';
import { AppError, isAppError } from '@central-logger/errors';
import type { Logger } from '@central-logger/http';
import type { Principal } from '@central-logger/keys';
import {
  headlineState,
  recordQuotaWarning,
  utcDay,
  type Lane,
  type Limits,
  type LimitState,
  type LimitsResolver,
  type RateDecision,
  type RateLimiter,
} from '@central-logger/limits';
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
  /** Counts a request of `events` refused because the bulk lane was over its bound (metrics). */
  onBulkRefused?: (events: number) => void;
}

/** Where an answer's headers go (the request's Exchange). */
interface AnswerHeaders {
  setHeader(name: string, value: string): void;
}

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
 * Takes one request and `events` events from the key's and the client's
 * limits (one Redis round trip, shared by the requests of an event-loop turn)
 * and shows the limits' state in RateLimit-* headers; 429 rate_limited with
 * Retry-After when over. Returns the queue lane of the request's events.
 *
 * Fair persistence: the same script call says whether the client is within
 * its fair share of events/s (fast lane) or over it (bulk lane). While the
 * bulk lane is over its bound (the last backlog sample, no extra round trip),
 * a request that would go there is refused with 429, not 503: the refusal is
 * the client's own (its rate over its share while the service catches up,
 * others still get 202), and it ends when the client slows down to its share.
 */
export async function admit(deps: AdmissionDeps, principal: Principal, events: number, answer: AnswerHeaders): Promise<Lane> {
  const clientId = principal.clientId!;
  const limits = deps.limits.cached(clientId) ?? (await deps.limits.limitsOf(clientId));
  let decision: RateDecision;
  try {
    decision = await deps.limiter.take({ clientId, keyId: principal.keyId, events, limits, bulkClosed: deps.backlog.bulkClosed() });
  } catch (cause) {
    throw new AppError('unavailable', 'Rate limits cannot be checked right now; retry later', { headers: { 'Retry-After': '5' }, cause });
  }
  showLimits(headlineState(decision), answer);
  for (const threshold of decision.warnings) {
    recordQuotaWarning(deps.sql, clientId, utcDay(Date.now()), threshold, decision.usedToday, limits.eventsPerDay).catch((err: Error) =>
      deps.log.error({ err: err.message, client_id: clientId, threshold }, 'could not record a quota warning'),
    );
  }
  if (decision.verdict === 'ok') return decision.lane;
  if (decision.verdict === 'backlog') deps.onBulkRefused?.(events);
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
export async function refusedBeforeAdmission(deps: AdmissionDeps, principal: Principal, err: unknown, answer: AnswerHeaders): Promise<unknown> {
  if (!isAppError(err)) return err;
  if (err.status >= 500) {
    // a 503 from backpressure: the limits' state, taking nothing
    try {
      const clientId = principal.clientId!;
      const decision = await deps.limiter.peek({ clientId, keyId: principal.keyId, limits: await deps.limits.limitsOf(clientId) });
      showLimits(headlineState(decision), answer);
    } catch {
      // Redis is what failed; the 503 goes out without RateLimit-*
    }
    return err;
  }
  try {
    await admit(deps, principal, 0, answer);
  } catch (over) {
    if (isAppError(over) && over.code === 'rate_limited') return over;
  }
  return err;
}

function showLimits(state: LimitState, answer: AnswerHeaders): void {
  answer.setHeader('RateLimit-Limit', String(state.limit));
  answer.setHeader('RateLimit-Remaining', String(state.remaining));
  answer.setHeader('RateLimit-Reset', String(state.resetS));
}

function overMessage(d: RateDecision, l: Limits): string {
  if (d.verdict === 'requests') return `Rate limit exceeded: at most ${l.requestsPerSecond} requests per second per key`;
  if (d.verdict === 'events') return `Rate limit exceeded: at most ${l.eventsPerSecond} events per second per key`;
  if (d.verdict === 'tenant') return `Rate limit exceeded: at most ${l.tenantEventsPerSecond} events per second per client, across all its keys`;
  if (d.verdict === 'backlog')
    return "Rate limit exceeded: the service is catching up with a backlog of events sent above this client's fair share; slow down or retry later";
  return `Daily quota exceeded: at most ${l.eventsPerDay} events per day; it resets at midnight UTC`;
}
