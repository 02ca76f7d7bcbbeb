import type { Context, Next } from 'koa';
import { AppError, isAppError, type ErrorDetail } from '@central-logger/errors';
import { EVERY_ANSWER } from './headers.js';
import { randomId } from './ids.js';
import type { Logger } from './logger.js';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

const API_KEY_CHALLENGE = 'ApiKey realm="central-logger", Bearer realm="central-logger"';

/** What a failed request is answered: the status, headers and `{error, message, details?, request_id}`. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: { error: string; message: string; details?: ErrorDetail[]; request_id: string };
}

/**
 * The answer to any failure, the one place that renders them. AppErrors are
 * shown as they are; anything else is logged (with `log`) and answered with a
 * bare 500 that reveals nothing but the request id.
 */
export function errorAnswer(err: unknown, requestId: string, log: () => Logger): ErrorAnswer {
  const appError = toAppError(err);
  if (appError.status >= 500 && appError.code !== 'unavailable') {
    log().error({ err: describe(err) }, 'request failed');
  }
  const headers = appError.status === 401 ? { ...appError.headers, 'WWW-Authenticate': API_KEY_CHALLENGE } : appError.headers;
  return {
    status: appError.status,
    headers,
    body: {
      error: appError.code,
      message: appError.message,
      ...(appError.details ? { details: appError.details } : {}),
      request_id: requestId,
    },
  };
}

/** What the access log says of one request. */
export interface RequestLine {
  method: string;
  path: string;
  ms: number;
  /** The authenticated key's prefix, if any: the only part of a key ever logged. */
  key_prefix: string | undefined;
  ip: string;
  /** The answer's error code, when it failed (what to grep for: invalid_api_key, rate_limited…). */
  error?: string;
}

/**
 * One access log line per request: `info` for failures, `debug` for
 * successes (a line per accepted POST would cost more than the POST). The
 * line is built, and the request's logger made, only when the level is on.
 */
export function logRequest(log: Logger, requestLog: () => Logger, status: number, line: () => RequestLine): void {
  const level = status >= 400 ? 'info' : 'debug';
  if (log.isLevelEnabled(level)) requestLog()[level]({ status, ...line() }, 'request');
}

/**
 * First in the chain: gives every request an id and a child logger (made
 * when first used), renders every failure with `errorAnswer`, and writes the
 * access log line.
 */
export function errorMiddleware(log: Logger) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    const requestId = randomId('req');
    let child: Logger | undefined;
    const requestLog = () => (child ??= log.child({ request_id: requestId }));
    ctx.state.requestId = requestId;
    Object.defineProperty(ctx.state, 'log', { get: requestLog, configurable: true, enumerable: true });
    ctx.set('X-Request-Id', requestId);
    ctx.set(EVERY_ANSWER);
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError('not_found', `No route for ${ctx.method} ${ctx.path}`);
      }
      if (ctx.status === 405 && ctx.body === undefined) {
        // the router's allowedMethods: the path exists, not with this method
        const allow = ctx.response.get('Allow');
        throw new AppError('method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}; allowed: ${allow}`, { headers: { Allow: allow } });
      }
    } catch (err) {
      const answer = errorAnswer(err, requestId, requestLog);
      ctx.status = answer.status;
      for (const [k, v] of Object.entries(answer.headers)) ctx.set(k, v);
      ctx.body = answer.body;
    } finally {
      logRequest(log, requestLog, ctx.status, () => ({ method: ctx.method, path: ctx.path, ms: Math.round(performance.now() - started), key_prefix: keyPrefixOf(ctx), ip: ctx.ip, error: errorCodeOf(ctx) }));
    }
  };
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

/** The error code of a failed answer's body. */
function errorCodeOf(ctx: Context): string | undefined {
  const error = ctx.status >= 400 ? (ctx.body as { error?: unknown } | undefined)?.error : undefined;
  return typeof error === 'string' ? error : undefined;
}

/** The authenticated key's prefix, if authentication ran. */
function keyPrefixOf(ctx: Context): string | undefined {
  return (ctx.state as { principal?: { prefix?: string } }).principal?.prefix;
}
