import type { Context, Next } from 'koa';
import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { extractApiKey, type KeyVerifier } from '@central-logger/keys';
import { findSession } from '../store/sessions.js';

export const SESSION_COOKIE = 'cl_admin_session';

/** Who is acting: an admin user's session, or an admin key (named by its prefix). */
export interface AdminActor {
  name: string;
  via: 'session' | 'key';
  /** Only for sessions: the cookie's token, so logout can revoke it. */
  sessionToken?: string;
  sessionExpiresAt?: Date;
}

declare module 'koa' {
  interface DefaultState {
    admin: AdminActor;
  }
}

/**
 * Admits an admin key (`Authorization: Bearer`, or `X-API-Key`) or a live
 * session cookie. A key is checked first: a tenant key is 403, not a reason to
 * look at cookies. Cookie-authenticated requests that change state must be
 * `application/json` (see `requireJsonForCookies`).
 */
export function requireAdmin(sql: Sql, verifier: KeyVerifier) {
  return async function authenticateAdmin(ctx: Context, next: Next): Promise<void> {
    const key = extractApiKey(ctx.headers);
    if (key !== undefined) {
      // the same path as ingest: failures recorded for the alert rules, repeated ones from an address limited
      const principal = await verifier.authenticate(key, ctx.ip);
      Object.assign(ctx.state, { principal }); // the access log names the key by prefix
      if (principal.role !== 'admin') throw new AppError('insufficient_scope', `The admin API needs an admin key; this key's role is ${principal.role}`);
      ctx.state.admin = { name: principal.prefix, via: 'key' };
      return next();
    }
    const token = ctx.cookies.get(SESSION_COOKIE);
    if (!token) throw new AppError('api_key_required', 'Sign in, or send an admin API key as Authorization: Bearer <key>');
    const session = await findSession(sql, token);
    if (!session) throw new AppError('invalid_credentials', 'Your session has expired or was signed out; sign in again');
    requireJsonForCookies(ctx);
    ctx.state.admin = { name: session.username, via: 'session', sessionToken: token, sessionExpiresAt: session.expiresAt };
    await next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for cookie sessions, in two layers:
 *  1. the cookie is SameSite=Strict, so browsers do not send it on any request
 *     started by another site (links, forms, scripts, images);
 *  2. state-changing requests must say `Content-Type: application/json`. A
 *     cross-site page can only send that header through fetch/XHR with CORS,
 *     which needs a preflight this app never approves (it sends no CORS
 *     headers); HTML forms can only send urlencoded, multipart or text/plain.
 * Either layer alone stops the classic attack; together they also cover old
 * browsers without SameSite and same-site sibling origins. Bearer keys are not
 * sent by browsers on their own, so they need neither.
 */
export function requireJsonForCookies(ctx: Context): void {
  if (SAFE_METHODS.has(ctx.method)) return;
  const media = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
  if (media !== 'application/json') {
    throw new AppError('unsupported_media_type', 'Requests that change state must be sent as Content-Type: application/json');
  }
}
