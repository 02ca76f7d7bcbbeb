import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';

export const MIN_PASSWORD_LENGTH = 12;
/** Bounds the work one sign-in request can ask for; the hash input is a digest anyway. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Why `password` cannot be an admin or tenant user password, or undefined when it can. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `The password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `The password may be at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}

// bcrypt reads only 72 bytes and stops at NUL: hash the SHA-256 hex digest
// (64 ASCII bytes) so every character of a long passphrase counts.
function digest(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

/** bcrypt in libuv's thread pool, off the event loop. */
export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(digest(password), cost);
}

export function verifyPassword(password: string, hash: string): Promise<boolean> {
  return bcrypt.compare(digest(password), hash);
}
