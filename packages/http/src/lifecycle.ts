import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import { AppError, isAppError, type ErrorDetail } from '@central-logger/errors';
import { randomId } from './ids.js';
import type { Logger } from './logger.js';
import type { RequestCounters } from './metrics.js';

// One request lifecycle for every answer a service gives, through Koa or a
// raw handler: a request id, a child logger made when first used, the error
// answer, serialisation, request metrics, usage counting and the access log.
// The Koa middleware (`koaLifecycle`) and the raw route wrapper (`serveRaw`)
// only adapt their request and response to an `Exchange`.

declare module 'koa' {
  interface DefaultState {
    requestId: string;
    log: Logger;
  }
}

const API_KEY_CHALLENGE = 'ApiKey realm="central-logger", Bearer realm="central-logger"';
const JSON_TYPE = 'application/json; charset=utf-8';

/** The contract's error body (DESIGN.md). */
export interface ErrorBody {
  error: string;
  message: string;
  details?: ErrorDetail[];
  request_id: string;
}

/** What a failed request is answered: the status, headers and body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
}

/** Who a request was made by, as far as the lifecycle needs it: the key's prefix is the only part of a key ever logged. */
export interface RequestPrincipal {
  prefix?: string;
}

export interface LifecycleOptions<P extends RequestPrincipal> {
  /** The service's logger; each request's child logger carries its `request_id`. */
  log: Logger;
  /** Where answered requests are counted (http_requests_total); not counted when absent. */
  counters?: RequestCounters;
  /** Called once per answered request, after the answer is written (usage counting); never awaited. None when absent. */
  usage?: (exchange: Exchange<P>) => void;
  /** Answers under this path (lowercase, matched in any case) carry `Cache-Control: no-store`, error answers too. None when absent. */
  noStoreUnder?: string;
  /**
   * Recognises failures that mean a service behind this one cannot be reached
   * right now (Postgres down: `isUnavailable` of @central-logger/db): they are
   * answered `503 unavailable` with `Retry-After: unavailableRetryAfterS`,
   * not 500. None when absent.
   */
  unavailable?: (err: unknown) => boolean;
  /** Retry-After of those answers, in seconds. Default 5. */
  unavailableRetryAfterS?: number;
}

/** A service's lifecycle: begins an `Exchange` per request. */
export class RequestLifecycle<P extends RequestPrincipal = RequestPrincipal> {
  constructor(readonly options: LifecycleOptions<P>) {}

  /** @param noStore whether the answer carries no-store; default: whether `path` is under `noStoreUnder` (raw routes decide it once). */
  begin(method: string, path: string, requestHeaders: IncomingHttpHeaders, noStore = this.noStore(path)): Exchange<P> {
    return new Exchange(this.options, method, path, requestHeaders, noStore);
  }

  /** Whether answers on `path` carry no-store (the router matches paths in any case). */
  noStore(path: string): boolean {
    const prefix = this.options.noStoreUnder;
    return prefix !== undefined && path.length >= prefix.length && path.slice(0, prefix.length).toLowerCase() === prefix;
  }
}

/**
 * One request, from its arrival to its access log line. Handlers fill in
 * what they learn (principal, address, events); `finish` does the rest once.
 * Methods on the prototype, not closures: the raw hot path makes one of these
 * per request and nothing else.
 */
export class Exchange<P extends RequestPrincipal = RequestPrincipal> {
  readonly id = randomId('req');
  readonly started = performance.now();
  /** The answer's headers so far: X-Request-Id, nosniff, no-store where due; handlers add theirs (Retry-After…). */
  readonly headers: Record<string, string>;
  /** The route pattern counted in metrics (never the raw path: unbounded labels). */
  route = 'unmatched';
  status = 200;
  /** The answer's error code, when it failed. */
  errorCode: string | undefined;
  principal: P | undefined;
  ip = '';
  /** Events the request carried, once validated: what a refusal after that point rejected. */
  eventCount: number | undefined;
  /** Events answered as accepted. */
  eventsAccepted = 0;
  /** Body bytes read off the wire (0 when the body was not read): an Exchange is the `WireBytes` the body readers count into. */
  bytes = 0;
  private child: Logger | undefined;
  private finished = false;

  constructor(
    private readonly options: LifecycleOptions<P>,
    readonly method: string,
    readonly path: string,
    readonly requestHeaders: IncomingHttpHeaders,
    noStore: boolean,
  ) {
    // literals, not spreads of EVERY_ANSWER and NO_STORE: this runs once per request on the hot path
    this.headers = noStore
      ? { 'X-Request-Id': this.id, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' }
      : { 'X-Request-Id': this.id, 'X-Content-Type-Options': 'nosniff' };
  }

  /** The request's logger (with its request_id), made when first used. */
  log(): Logger {
    this.child ??= this.options.log.child({ request_id: this.id });
    return this.child;
  }

  setHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  /**
   * The answer to a failure, the one place that renders them: AppErrors as
   * they are; anything else is logged and answered with a bare 500 that
   * reveals nothing but the request id. Sets the status, error code and
   * headers of this exchange.
   */
  fail(err: unknown): ErrorAnswer {
    const { unavailable, unavailableRetryAfterS = 5 } = this.options;
    const outage = unavailable?.(err)
      ? new AppError('unavailable', 'A service this request needs cannot be reached right now; retry later', {
          headers: { 'Retry-After': String(unavailableRetryAfterS) },
          cause: err,
        })
      : undefined;
    const answer = errorAnswer(outage ?? err, this.id, () => this.log());
    this.status = answer.status;
    this.errorCode = answer.body.error;
    Object.assign(this.headers, answer.headers);
    return answer;
  }

  /** Serialises `body` as JSON and writes the answer with this exchange's headers (raw handlers). */
  sendJson(res: ServerResponse, status: number, body: unknown): void {
    this.send(res, status, JSON_TYPE, JSON.stringify(body));
  }

  /** Writes the answer with this exchange's headers (raw handlers). */
  send(res: ServerResponse, status: number, contentType: string, body: string | Uint8Array): void {
    this.status = status;
    const headers = this.headers;
    headers['Content-Type'] = contentType;
    headers['Content-Length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    res.writeHead(status, headers);
    res.end(body);
  }

  /** After the answer: request metrics, usage and the access log line, once. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const { counters, usage, log } = this.options;
    counters?.count(this.method, this.route, this.status, this.errorCode);
    usage?.(this);
    // info for failures, debug for successes (a line per accepted POST would cost more than the POST); built only when the level is on
    const level = this.status >= 400 ? 'info' : 'debug';
    if (log.isLevelEnabled(level)) {
      this.log()[level](
        {
          status: this.status,
          method: this.method,
          path: this.path,
          ms: Math.round(performance.now() - this.started),
          key_prefix: this.principal?.prefix,
          ip: this.ip,
          error: this.errorCode,
        },
        'request',
      );
    }
  }

  /**
   * A raw handler threw instead of answering (a bug): answered as any other
   * failure, with this request's id, when nothing was sent yet; otherwise the
   * connection is cut, since the answer under way cannot be trusted.
   */
  failedOutside(err: unknown, res: ServerResponse): void {
    if (res.headersSent) {
      this.log().error({ err: describe(err) }, 'request failed after its answer began');
      res.destroy();
    } else {
      const answer = this.fail(err);
      this.sendJson(res, answer.status, answer.body);
    }
    this.finish();
  }
}

/** The answer to any failure (see Exchange.fail); `log` is called only for errors that must be logged. */
export function errorAnswer(err: unknown, requestId: string, log: () => Logger): ErrorAnswer {
  const appError = toAppError(err);
  if (appError.status >= 500 && appError.code !== 'unavailable') {
    log().error({ err: describe(err) }, 'request failed');
  }
  const headers = appError.status === 401 ? { ...appError.headers, 'WWW-Authenticate': API_KEY_CHALLENGE } : appError.headers;
  return {
    status: appError.status,
    headers,
    body: { error: appError.code, message: appError.message, ...(appError.details ? { details: appError.details } : {}), request_id: requestId },
  };
}

/** The Koa adapter: first in the chain; an exchange per request, every failure rendered by it, then `finish`. */
export function koaLifecycle<P extends RequestPrincipal>(lifecycle: RequestLifecycle<P>) {
  return async function lifecycleOf(ctx: Context, next: Next): Promise<void> {
    const exchange = lifecycle.begin(ctx.method, ctx.path, ctx.headers);
    ctx.state.requestId = exchange.id;
    Object.defineProperty(ctx.state, 'log', { get: () => exchange.log(), configurable: true, enumerable: true });
    ctx.set(exchange.headers);
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
      const answer = exchange.fail(err);
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = answer.body;
    } finally {
      const body = ctx.body as { accepted?: unknown; error?: unknown } | null | undefined;
      exchange.status = ctx.status;
      exchange.errorCode ??= ctx.status >= 400 && typeof body?.error === 'string' ? body.error : undefined;
      exchange.route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      exchange.principal = (ctx.state as unknown as { principal?: P }).principal;
      exchange.ip = ctx.ip;
      if (ctx.status === 202 && typeof body?.accepted === 'number') exchange.eventsAccepted = body.accepted;
      exchange.finish();
    }
  };
}

/** A raw route's handler: answers through `exchange` (sendJson or send, then finish). */
export type RawHandler<P extends RequestPrincipal> = (req: IncomingMessage, res: ServerResponse, exchange: Exchange<P>) => Promise<void>;

/** The raw adapter: a request listener for one route served without Koa; whatever its handler throws is answered by the lifecycle too. */
export function serveRaw<P extends RequestPrincipal>(lifecycle: RequestLifecycle<P>, route: { method: string; path: string }, handler: RawHandler<P>) {
  const noStore = lifecycle.noStore(route.path);
  return function serve(req: IncomingMessage, res: ServerResponse): void {
    const exchange = lifecycle.begin(route.method, route.path, req.headers, noStore);
    exchange.route = route.path;
    handler(req, res, exchange).catch((err: unknown) => exchange.failedOutside(err, res));
  };
}

function toAppError(err: unknown): AppError {
  if (isAppError(err)) return err;
  // errors thrown by Koa itself (ctx.throw, http-errors) carry a status
  const status = (err as { status?: unknown } | null)?.status;
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
