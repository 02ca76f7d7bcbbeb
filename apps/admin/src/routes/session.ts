import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { MAX_PASSWORD_LENGTH, verifyPassword } from '../auth/passwords.js';
import { readJson } from '../middleware/json-body.js';
import { SESSION_COOKIE } from '../middleware/require-admin.js';
import { findAdminUser, type AdminUser } from '../store/admin-users.js';
import { recordAudit, recordLoginFailure } from '../store/audit.js';
import { createSession, revokeSession } from '../store/sessions.js';
import type { RouteDeps } from './deps.js';

const loginBody = z.object({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
});

/** `POST /admin/api/login`: a session cookie for a right username and password. */
export function login(deps: RouteDeps) {
  return async function signIn(ctx: Context): Promise<void> {
    const { username, password } = await readJson(ctx, loginBody);
    // the token is taken before the password is checked: a burst checks at most the limit's worth
    const ticket = await deps.limiter.take(ctx.ip, username);
    const user = await checkPassword(deps, username, password).catch(async (err: unknown) => {
      await ticket.release();
      throw err;
    });
    if (!user) return failSignIn(ctx, deps, username);

    await ticket.succeed();
    const session = await deps.sql.begin(async (tx) => {
      const s = await createSession(tx, { username, ttlMs: deps.sessionTtlMs, ip: ctx.ip, userAgent: ctx.get('user-agent') || null });
      await recordAudit(tx, { actor: username, action: 'login.success', target: `admin_user:${username}`, ip: ctx.ip });
      return s;
    });
    ctx.append('Set-Cookie', sessionCookie(session.token, session.expiresAt, secureCookies(deps)));
    ctx.body = { username, expires_at: session.expiresAt };
  };
}

/** The admin user when the password is right; an unknown username costs the same bcrypt compare as a wrong password. */
async function checkPassword(deps: RouteDeps, username: string, password: string): Promise<AdminUser | undefined> {
  const user = await findAdminUser(deps.sql, username);
  const ok = await verifyPassword(password, user?.passwordHash ?? (await deps.dummyHash));
  return user && ok ? user : undefined;
}

// the attempt's tokens stay spent
async function failSignIn(ctx: Context, deps: RouteDeps, username: string): Promise<never> {
  await deps.sql.begin(async (tx) => {
    await recordLoginFailure(tx, username, ctx.ip);
    await recordAudit(tx, { actor: 'anonymous', action: 'login.failure', target: `admin_user:${username.slice(0, 64)}`, ip: ctx.ip });
  });
  ctx.state.log.warn({ username: username.slice(0, 64), ip: ctx.ip }, 'admin sign-in failed');
  throw new AppError('invalid_credentials', 'Invalid username or password');
}

/** `POST /admin/api/logout`: revokes the session server-side and clears the cookie. */
export function logout(deps: RouteDeps) {
  return async function signOut(ctx: Context): Promise<void> {
    const admin = ctx.state.admin;
    if (admin.via !== 'session' || !admin.sessionToken) throw new AppError('bad_request', 'An API key has no session to sign out of');
    const token = admin.sessionToken;
    await deps.sql.begin(async (tx) => {
      if (await revokeSession(tx, token)) await recordAudit(tx, { actor: admin.name, action: 'logout', target: `admin_user:${admin.name}`, ip: ctx.ip });
    });
    ctx.append('Set-Cookie', sessionCookie('', new Date(0), secureCookies(deps)));
    ctx.status = 204;
  };
}

/** `GET /admin/api/session`: who is signed in (the dashboard asks on load). */
export function whoAmI(ctx: Context): void {
  const { name, via, sessionExpiresAt } = ctx.state.admin;
  ctx.body = { actor: name, via, expires_at: sessionExpiresAt ?? null };
}

// Secure unless developing or testing over plain http on localhost. Written by
// hand because Koa's cookie helper refuses Secure when it cannot see TLS
// itself (TLS ends at a proxy and TRUST_PROXY is off).
function sessionCookie(value: string, expires: Date, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((expires.getTime() - Date.now()) / 1000));
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', `Expires=${expires.toUTCString()}`, `Max-Age=${maxAge}`, 'HttpOnly', 'SameSite=Strict'];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

function secureCookies(deps: RouteDeps): boolean {
  return deps.config.NODE_ENV === 'production';
}
