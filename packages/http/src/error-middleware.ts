import type { Context, Next } from 'koa';
import { AppError, isAppError } from '@central-logger/errors';
import { randomId } from './ids.js';
import type { Logger } from './logger.js';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

const API_KEY_CHALLENGE = 'ApiKey realm="central-logger", Bearer realm="central-logger"';

/**
 * First in the chain: gives every request an id and a child logger, and
 * renders every failure as `{error, message, details?, request_id}`.
 * AppErrors are shown as they are; anything else is logged and answered with
 * a bare 500 that reveals nothing but the request id.
 * One access log line per request: `info` for failures, `debug` for
 * successes (a line per accepted POST would cost more than the POST).
 * It names the key by prefix only, never the key.
 */
export function errorMiddleware(log: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    try {
      await respond(ctx, next, log);
    } finally {
      const level = ctx.status >= 400 ? 'info' : 'debug';
      if (log.isLevelEnabled(level)) {
        ctx.state.log[level]({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started), key_prefix: keyPrefixOf(ctx), ip: ctx.ip }, 'request');
      }
    }
  };
}

async function respond(ctx: Context, next: Next, log: Logger): Promise<void> {
  {
    const requestId = randomId('req');
    ctx.state.requestId = requestId;
    // the request's logger is made when first used: most requests log nothing
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= log.child({ request_id: requestId })), configurable: true, enumerable: true });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('not_found', `No route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const appError = toAppError(err);
      if (appError.status >= 500 && appError.code !== 'unavailable') {
        ctx.state.log.error({ err: describe(err) }, 'request failed');
      }
      ctx.status = appError.status;
      for (const [k, v] of Object.entries(appError.headers)) ctx.set(k, v);
      if (appError.status === 401) ctx.set('WWW-Authenticate', API_KEY_CHALLENGE);
      ctx.body = {
        error: appError.code,
        message: appError.message,
        ...(appError.details ? { details: appError.details } : {}),
        request_id: requestId,
      };
    }
  }
}

function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  // errors thrown by Koa itself (ctx.throw, http-errors) carry a status
  const status = (err as { status?: unknown; expose?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new AppError('payload_too_large', 'The request body is too large');
    if (status === 415) return new AppError('unsupported_media_type', 'Unsupported media type');
    if (status === 404) return new AppError('not_found', 'Not found');
    return new AppError('bad_request', 'The request could not be understood');
  }
  return new AppError('internal_error', 'Internal server error');
}

/** What of an unexpected error may be logged: never a body it carries. */
function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack, code: (err as { code?: unknown }).code };
  return { value: String(err) };
}

/** The authenticated key's prefix, if authentication ran: the only part of a key ever logged. */
function keyPrefixOf(ctx: Context): string | undefined {
  return (ctx.state as { principal?: { prefix?: string } }).principal?.prefix;
}
