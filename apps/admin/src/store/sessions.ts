import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/** The session token lives only in the cookie; the database keeps its SHA-256 digest. */
export function sessionId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewSession {
  username: string;
  ttlMs: number;
  ip: string | null;
  userAgent: string | null;
}

export interface Session {
  username: string;
  expiresAt: Date;
}

/** Starts a session and records the sign-in; returns the token for the cookie. */
export async function createSession(tx: Db, input: NewSession): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + input.ttlMs);
  await tx`
    insert into admin_sessions (id, username, expires_at, ip, user_agent)
    values (${sessionId(token)}, ${input.username}, ${expiresAt}, ${input.ip}, ${input.userAgent?.slice(0, 512) ?? null})`;
  await tx`update admin_users set last_login_at = now() where username = ${input.username}`;
  return { token, expiresAt };
}

/** The live session a token opens: not revoked, not expired. */
export async function findSession(sql: Db, token: string): Promise<Session | undefined> {
  const [r] = await sql`
    select username, expires_at from admin_sessions
    where id = ${sessionId(token)} and revoked_at is null and expires_at > now()`;
  return r ? { username: r.username as string, expiresAt: r.expires_at as Date } : undefined;
}

/** Revokes the session of `token`; false when it was not live. */
export async function revokeSession(tx: Db, token: string): Promise<boolean> {
  const rows = await tx`
    update admin_sessions set revoked_at = now()
    where id = ${sessionId(token)} and revoked_at is null and expires_at > now() returning id`;
  return rows.length > 0;
}
