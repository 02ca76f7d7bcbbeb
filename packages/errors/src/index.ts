/**
 * The one error type of the service. Every failure a client may see is an
 * AppError with a code from this closed set; the HTTP status is derived here
 * and nowhere else.
 */
export const errorStatus = {
  validation_failed: 400,
  bad_request: 400,
  api_key_required: 401,
  invalid_api_key: 401,
  api_key_expired: 401,
  api_key_revoked: 401,
  client_inactive: 401,
  invalid_credentials: 401,
  insufficient_scope: 403,
  /** A console session's state-changing request that did not come from the console's own origin (CSRF). */
  cross_origin_refused: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** Every error code a response may carry. */
export const ERROR_CODES = Object.keys(errorStatus) as ErrorCode[];

/** One problem found in a request, e.g. `{ index: 3, field: "executed_at", message: "..." }`. */
export interface ErrorDetail {
  index?: number;
  field?: string;
  message: string;
}

export interface AppErrorOptions {
  details?: ErrorDetail[];
  /** Extra response headers, e.g. `Retry-After`. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[] | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorStatus[code];
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/**
 * 429 `rate_limited` from a limit that is used up: `Retry-After` and the
 * RateLimit-* headers of that limit (nothing remaining until it resets).
 */
export function limitReached(message: string, limit: number, waitMs: number): AppError {
  const seconds = String(waitSeconds(waitMs));
  return new AppError('rate_limited', message, {
    headers: { 'Retry-After': seconds, 'RateLimit-Limit': String(limit), 'RateLimit-Remaining': '0', 'RateLimit-Reset': seconds },
  });
}

/** Whole seconds to wait, at least 1 (Retry-After has no fractions). */
export function waitSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
