import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import type { Logger } from '@central-logger/http';
import { claimedPrefix, extractApiKey, type Principal } from '@central-logger/keys';
import { isUserPrincipal } from '@central-logger/tenant-auth';
import type { RequestUsage, UsageCounter, UsageSubject } from '@central-logger/usage';

declare module 'koa' {
  interface DefaultState {
    /** Events a request carried, once validated: what a refusal after that point rejected. */
    eventCount?: number;
  }
}

/** What an answered `/api/v1` request tells usage counting. */
export interface AnsweredRequest {
  principal: Principal | undefined;
  headers: IncomingHttpHeaders;
  address: string;
  status: number;
  /** The answer's `error` code, if it failed. */
  errorCode: string | undefined;
  /** Events answered 202. */
  eventsAccepted: number;
  /** Events the request carried, once validated (1 when unknown). */
  eventCount: number | undefined;
  /** Body bytes read off the wire (0 when the body was not read): counted even without a Content-Length. */
  bodyBytes?: number;
}

/**
 * Counts one answered request against its key (or the prefix a refused key
 * claimed). Nothing is written to Postgres here (the worker's roll-up does
 * that) and the answer never waits for it: the counts of one event-loop turn
 * go to Redis together, after the answers, and a counting failure is only
 * logged.
 */
export function recordUsage(counter: UsageCounter, log: Logger, request: AnsweredRequest): void {
  const usage = usageOf(request);
  if (!usage) return;
  counter.record(usage).catch((err: Error) => log.warn({ err: err.message }, 'could not count usage'));
}

/**
 * Usage counting for every `/api/v1` request the Koa app answers. Placed
 * outside the error middleware, so it sees the final status and error code
 * of every answer (200, 400, 401, 403, 429, 503…).
 */
export function countUsage(counter: UsageCounter, log: Logger) {
  return async function usage(ctx: Context, next: Next): Promise<void> {
    await next();
    if (!ctx.path.startsWith('/api/v1/')) return;
    const body = ctx.body as { accepted?: unknown; error?: unknown } | undefined;
    recordUsage(counter, log, {
      principal: ctx.state.principal,
      headers: ctx.headers,
      address: ctx.ip,
      status: ctx.status,
      errorCode: typeof body?.error === 'string' ? body.error : undefined,
      eventsAccepted: ctx.status === 202 && typeof body?.accepted === 'number' ? body.accepted : 0,
      eventCount: ctx.state.eventCount,
    });
  };
}

function usageOf(r: AnsweredRequest): RequestUsage | undefined {
  const subject = subjectOf(r);
  if (!subject) return undefined; // no key, or none we could name: auth_failures has it, by address
  const code = r.status >= 400 ? r.errorCode : undefined;
  return {
    subject,
    ...('keyId' in subject ? { address: r.address } : {}),
    // what arrived when the body was read (a chunked upload has no Content-Length), else what the request declared
    bytes: r.bodyBytes || Number(r.headers['content-length']) || 0,
    eventsAccepted: r.eventsAccepted,
    authFailure: r.status === 401,
    rateLimited: r.status === 429,
    ...(code ? { rejected: { reason: code, events: r.eventCount ?? 1 } } : {}),
  };
}

function subjectOf(r: AnsweredRequest): UsageSubject | undefined {
  // a user's token is no key: usage is counted per key (usage_hourly references api_keys)
  if (isUserPrincipal(r.principal)) return undefined;
  if (r.principal) return { keyId: r.principal.keyId };
  const key = extractApiKey(r.headers);
  // a legacy key's lookup id needs the server's secret (issue 13 item 6): its failures are counted by address only
  const prefix = key === undefined ? undefined : claimedPrefix(key);
  return prefix ? { prefix } : undefined;
}
