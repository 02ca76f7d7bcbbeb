import type { Context, Next } from 'koa';
import type { Logger } from '@central-logger/http';
import { claimedPrefix, extractApiKey, legacyPrefix } from '@central-logger/keys';
import type { RequestUsage, UsageCounter, UsageSubject } from '@central-logger/usage';

declare module 'koa' {
  interface DefaultState {
    /** Events a POST /api/v1/logs carried, once validated: what a refusal after that point rejected. */
    eventCount?: number;
  }
}

/**
 * Usage counting for every `/api/v1` request. Placed outside the error
 * middleware, so it sees the final status and error code of every answer
 * (202, 400, 401, 413, 429, 503…). One Redis round trip per request; nothing
 * is written to Postgres here (the worker's roll-up does that). A counting
 * failure never changes the answer.
 */
export function countUsage(counter: UsageCounter, log: Logger) {
  return async function usage(ctx: Context, next: Next): Promise<void> {
    await next();
    if (!ctx.path.startsWith('/api/v1/')) return;
    const u = usageOf(ctx);
    if (!u) return;
    try {
      await counter.record(u);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not count usage');
    }
  };
}

function usageOf(ctx: Context): RequestUsage | undefined {
  const subject = subjectOf(ctx);
  if (!subject) return undefined; // no key, or none we could name: auth_failures has it, by address
  const status = ctx.status;
  const body = ctx.body as { accepted?: unknown; error?: unknown } | undefined;
  const code = status >= 400 && typeof body?.error === 'string' ? body.error : undefined;
  return {
    subject,
    ...('keyId' in subject ? { address: ctx.ip } : {}),
    bytes: Number(ctx.get('content-length')) || 0,
    eventsAccepted: status === 202 && typeof body?.accepted === 'number' ? body.accepted : 0,
    authFailure: status === 401,
    rateLimited: status === 429,
    ...(code ? { rejected: { reason: code, events: ctx.state.eventCount ?? 1 } } : {}),
  };
}

function subjectOf(ctx: Context): UsageSubject | undefined {
  const principal = ctx.state.principal;
  if (principal) return { keyId: principal.keyId };
  const key = extractApiKey(ctx.headers);
  const prefix = key === undefined ? undefined : (claimedPrefix(key) ?? legacyPrefix(key));
  return prefix ? { prefix } : undefined;
}
