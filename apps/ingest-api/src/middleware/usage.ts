import type { Exchange, Logger } from '@central-logger/http';
import { claimedPrefix, extractApiKey, type Principal } from '@central-logger/keys';
import { isUserPrincipal } from '@central-logger/tenant-auth';
import type { RequestUsage, UsageCounter, UsageSubject } from '@central-logger/usage';

/**
 * Usage counting, the request lifecycle's `usage` hook: counts each answered
 * request under `/api/v1/` (and the raw routes'), Koa's or raw, against its
 * key (or the prefix a refused key claimed). Nothing is written to Postgres
 * here (the worker's roll-up does that) and the answer never waits for it:
 * the counts of one event-loop turn go to Redis together, after the answers,
 * and a counting failure is only logged.
 * @param counted which paths count (default: under `/api/v1/`).
 */
export function countUsage(counter: UsageCounter, log: Logger, counted: (path: string) => boolean = (path) => path.startsWith('/api/v1/')) {
  return function recordUsage(exchange: Exchange<Principal>): void {
    if (!counted(exchange.path)) return;
    const usage = usageOf(exchange);
    if (!usage) return;
    counter.record(usage).catch((err: Error) => log.warn({ err: err.message }, 'could not count usage'));
  };
}

function usageOf(r: Exchange<Principal>): RequestUsage | undefined {
  const subject = subjectOf(r);
  if (!subject) return undefined; // no key, or none we could name: auth_failures has it, by address
  const code = r.status >= 400 ? r.errorCode : undefined;
  return {
    subject,
    ...('keyId' in subject ? { address: r.ip } : {}),
    // what arrived when the body was read (a chunked upload has no Content-Length), else what the request declared
    bytes: r.bytes || Number(r.requestHeaders['content-length']) || 0,
    eventsAccepted: r.eventsAccepted,
    authFailure: r.status === 401,
    rateLimited: r.status === 429,
    ...(code ? { rejected: { reason: code, events: r.eventCount ?? 1 } } : {}),
  };
}

function subjectOf(r: Exchange<Principal>): UsageSubject | undefined {
  // a user's token is no key: usage is counted per key (usage_hourly references api_keys)
  if (isUserPrincipal(r.principal)) return undefined;
  if (r.principal) return { keyId: r.principal.keyId };
  const key = extractApiKey(r.requestHeaders);
  // a legacy key's lookup id needs the server's secret (an unkeyed id let anyone who saw it test guesses offline): its failures are counted by address only
  const prefix = key === undefined ? undefined : claimedPrefix(key);
  return prefix ? { prefix } : undefined;
}
