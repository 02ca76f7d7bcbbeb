import type { Context, Next } from 'koa';
import type { IngestConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import type { Logger } from '@central-logger/http';
import {
  AuthFailureLog,
  extractApiKey,
  FailureLimiter,
  requireScope,
  UsageTracker,
  type KeyVerifier,
  type KeyVerifierOptions,
  type Principal,
  type Scope,
} from '@central-logger/keys';
import type { Redis } from 'ioredis';

declare module 'koa' {
  interface DefaultState {
    principal: Principal;
  }
}

/**
 * Resolves the request's key to a tenant principal with `scope` (any tenant
 * key when absent), or answers 401 (429 once the address failed too often)
 * or 403 naming the missing scope.
 */
export function authenticate(verifier: KeyVerifier, scope?: Scope) {
  return async function requireKey(ctx: Context, next: Next): Promise<void> {
    const principal = await verifier.authenticate(extractApiKey(ctx.headers), ctx.ip);
    if (principal.clientId === null) {
      throw new AppError('insufficient_scope', 'Admin keys work only on the admin API');
    }
    if (scope) requireScope(principal.role, scope);
    ctx.state.principal = principal;
    await next();
  };
}

/** The ingest-api's key verifier settings: cache TTL, failure limits and recording, usage flushing. */
export function verifierOptions(config: IngestConfig, sql: Sql, redis: Redis, log: Logger): KeyVerifierOptions {
  const onError = (err: Error) => log.warn({ err: err.message }, 'key bookkeeping failed; will retry');
  return {
    ttlMs: config.KEY_CACHE_TTL_MS,
    bcryptCost: config.BCRYPT_COST,
    failures: new AuthFailureLog(sql, { flushMs: config.AUTH_FAILURE_FLUSH_MS, onError }),
    usage: new UsageTracker(sql, { flushMs: config.KEY_USAGE_FLUSH_MS, onError }),
    limiter: new FailureLimiter(redis, { limit: config.AUTH_FAILURE_LIMIT, windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS, keyPrefix: config.QUEUE_PREFIX }),
    onError,
    // the prefix is the public part of a key: safe to log, and what alerts group by
    onFailure: (f) => log.debug({ address: f.address, key_prefix: f.keyPrefix, reason: f.reason }, 'authentication failed'),
  };
}
