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
