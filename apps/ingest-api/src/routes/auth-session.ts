import type { Context } from 'koa';
import { z } from 'zod';
import { recordAudit } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { readJsonBody } from '@central-logger/http';
import { claimedPrefix, type KeyVerifier, type Principal } from '@central-logger/keys';
import {
  checkSignIn,
  CONSOLE_SESSION_COOKIE,
  MAX_PASSWORD_LENGTH,
  recordSuccess,
  userJson,
  type ConsoleSessions,
  type SignInDeps,
} from '@central-logger/tenant-auth';
import { refuseCrossSite, requireSameOrigin, sessionCookie } from '../middleware/authenticate.js';

const sessionBody = z.union([
  z.strictObject({ username: z.string().min(1).max(256), password: z.string().min(1).max(MAX_PASSWORD_LENGTH) }),
  z.strictObject({ api_key: z.string().min(1).max(512) }),
]);

export interface SessionDeps extends Omit<SignInDeps, 'tokens'> {
  verifier: KeyVerifier;
  sessions: ConsoleSessions;
  /** Cookies are Secure in production (TLS ends at a proxy in front, so Koa cannot see it itself). */
  secure: boolean;
}

/**
 * `POST /api/v1/auth/session` `{"username", "password"}` or `{"api_key"}`:
 * signs in to the console. The answer sets the session cookie (an opaque id;
 * the session itself is in Redis); no key or token ever reaches the page.
 * Both ways count under the sign-in limits of /api/v1/auth/login (per
 * address, and per username or key prefix), taken before any hashing.
 * Only reader and owner keys open a console.
 */
export function createSession(deps: SessionDeps) {
  return async function postSession(ctx: Context): Promise<void> {
    refuseCrossSite(ctx.headers);
    const parsed = sessionBody.safeParse(await readJsonBody(ctx.req, 4 * 1024));
    if (!parsed.success) throw new AppError('validation_failed', 'The body must be {"username": "...", "password": "..."} or {"api_key": "..."}');
    const body = parsed.data;
    const { id, session, answer } =
      'api_key' in body ? await keySession(deps, body.api_key, ctx.ip) : await userSession(deps, body.username, body.password, ctx.ip);
    ctx.append('Set-Cookie', sessionCookieHeader(id, Date.parse(session.expiresAt), deps.secure));
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 201;
    ctx.body = { ...answer, client_id: session.clientId, role: session.role, expires_at: session.expiresAt };
  };
}

async function userSession(deps: SessionDeps, username: string, password: string, ip: string) {
  const user = await checkSignIn(deps, username, password, ip);
  const { id, session } = await deps.sessions.create({ kind: 'user', userId: user.id, clientId: user.clientId, role: user.role });
  await recordSuccess(deps.sql, user, ip, 'session');
  return { id, session, answer: { via: 'session', user: userJson({ ...user, lastLoginAt: new Date() }) } };
}

// a pasted key: the same limiter as a password (its prefix stands for the username), then the verifier's own bounds
async function keySession(deps: SessionDeps, apiKey: string, ip: string) {
  const ticket = await deps.limiter.take(ip, `key:${claimedPrefix(apiKey) ?? 'unknown'}`);
  let principal: Principal;
  try {
    principal = await deps.verifier.authenticate(apiKey, ip);
  } catch (err) {
    // a wrong key keeps its token spent; a 429 or 503 checked nothing
    if (!(err instanceof AppError && err.status === 401)) await ticket.release();
    throw err;
  }
  await ticket.succeed();
  const role = principal.role;
  if (principal.clientId === null || (role !== 'owner' && role !== 'reader')) {
    throw new AppError('insufficient_scope', `Only reader and owner keys open the console; this key's role is ${role}`);
  }
  const { id, session } = await deps.sessions.create({ kind: 'key', keyId: principal.keyId, clientId: principal.clientId, role });
  await recordAudit(deps.sql, {
    actor: principal.prefix,
    action: 'tenant_login.success',
    target: `key:${principal.keyId}`,
    details: { client_id: principal.clientId, via: 'session' },
    ip,
  });
  return { id, session, answer: { via: 'api_key', key: { id: principal.keyId, prefix: principal.prefix } } };
}

/**
 * `DELETE /api/v1/auth/session`: signs out. The session is deleted from
 * Redis (every process refuses it from the next request) and the cookie
 * cleared; also when the session had already ended, so the page always
 * gets back to its sign-in form. Only from the console's own origin.
 */
export function endSession(sessions: ConsoleSessions, secure: boolean) {
  return async function deleteSession(ctx: Context): Promise<void> {
    const id = sessionCookie(ctx.headers);
    if (id === undefined) throw new AppError('bad_request', 'There is no console session to sign out of (no session cookie)');
    requireSameOrigin(ctx.headers);
    if (await sessions.end(id)) ctx.state.log.info({ session: sessions.reference(id) }, 'console session ended');
    ctx.append('Set-Cookie', sessionCookieHeader('', 0, secure));
    ctx.status = 204;
  };
}

// by hand, as the admin app's: Koa's cookie helper refuses Secure when it cannot see TLS itself
function sessionCookieHeader(value: string, expiresAtMs: number, secure: boolean): string {
  const maxAge = Math.max(0, Math.floor((expiresAtMs - Date.now()) / 1000));
  const parts = [
    `${CONSOLE_SESSION_COOKIE}=${value}`,
    'Path=/',
    `Expires=${new Date(expiresAtMs).toUTCString()}`,
    `Max-Age=${maxAge}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}
