/**
 * Postgres error codes, mapped in one place.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(err: unknown): boolean {
  return codeOf(err) === '23505';
}

/** A lock wait that ran past its lock_timeout (lock_not_available). */
export function isLockTimeout(err: unknown): boolean {
  return codeOf(err) === '55P03';
}

/**
 * The data itself cannot be stored (bad text, bad json, out of range, a check
 * failed): retrying the same rows can never succeed.
 */
export function isDataError(err: unknown): boolean {
  const code = codeOf(err);
  if (!code) return false;
  return code.startsWith('22') || code === '23514' || code === '23502';
}

// the socket's and postgres.js's own codes for a connection that failed, closed or timed out
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);
// server states in which no query can run now, though it may in a moment: too many connections,
// shutting down or starting up, the database gone or closed to connections
const UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03', '3D000']);

/**
 * Postgres cannot be reached or cannot take queries right now (the server is
 * down, restarting, refusing connections, or the network is): a caller may
 * answer 503 and try again later. A failure of the query itself is not this.
 */
export function isUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  if (!code) return false;
  if (CONNECTION_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08')) return true;
  // object_not_in_prerequisite_state also covers query errors: only the connect-time one counts
  return code === '55000' && /not currently accepting connections/.test((err as Error).message ?? '');
}

class NoAnswer extends Error {
  // a query that never answered counts as a connection that timed out (isUnavailable)
  readonly code = 'CONNECT_TIMEOUT';
}

/**
 * `query`, or a rejection that isUnavailable() recognises once it has not
 * answered within `ms`: postgres.js can leave a query waiting for a
 * connection that never comes (seen against a database refusing connections).
 */
export function answerWithin<T>(query: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new NoAnswer(`no answer from Postgres within ${ms} ms`)), ms);
    timer.unref();
    query.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
