import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { AppError } from '@central-logger/errors';
import { extractApiKey, requireScope, type Invalidation, type KeyVerifier, type Principal, type Scope } from '@central-logger/keys';
import { CONSOLE_SESSION_COOKIE, looksLikeToken, type ConsoleSession, type ConsoleSessions, type TenantTokens } from '@central-logger/tenant-auth';

declare module 'koa' {
  interface DefaultState {
    principal: Principal;
    /** Set when a console session cookie authenticated the request. */
    session?: SessionInfo;
  }
}

// the tenant users' token verifier of each key verifier, set once by the app (acceptUserTokens)
const userTokens = new WeakMap<KeyVerifier, TenantTokens>();
// the console's sessions, likewise (acceptConsoleSessions)
const consoleSessions = new WeakMap<KeyVerifier, ConsoleSessions>();

/** Makes every route authenticated by `verifier` also accept tenant users' access tokens as `Authorization: Bearer`. */
export function acceptUserTokens(verifier: KeyVerifier, tokens: TenantTokens): void {
  userTokens.set(verifier, tokens);
}

/** Makes every route authenticated by `verifier` also accept the console's session cookie, when the request carries no key or token. */
export function acceptConsoleSessions(verifier: KeyVerifier, sessions: ConsoleSessions): void {
  consoleSessions.set(verifier, sessions);
}

/** The console session a request was authenticated by. */
export interface SessionInfo {
  /** The cookie's id (sign-out ends it). */
  id: string;
  /** What may be shown of it (ConsoleSessions.reference). */
  reference: string;
  session: ConsoleSession;
}

/**
 * Tells this process's key verifier and tenant token cache to forget what an
 * invalidation names, now (a live tail rechecks its credential right after).
 */
export function forgetCredentials(verifier: KeyVerifier, what: Record<string, unknown>): void {
  if ('all' in what || typeof what.keyId === 'string' || typeof what.clientId === 'string') verifier.invalidate(what as Invalidation);
  userTokens.get(verifier)?.invalidate(what);
}

/**
 * Whether the credential a request authenticated with still holds, for
 * requests that outlive their authentication (a live tail): undefined, or
 * the error a new request would get (revoked, expired, client or user
 * deactivated, role no longer allowing `scope`, another tenant). Keys are
 * rechecked without recording a use or a failure.
 */
export async function credentialRefusal(
  verifier: KeyVerifier,
  headers: IncomingHttpHeaders,
  address: string,
  was: Principal,
  scope: Scope,
): Promise<AppError | undefined> {
  try {
    const credential = extractApiKey(headers);
    const tokens = userTokens.get(verifier);
    // no key nor token in the headers: the console session, if any, is rechecked
    if (credential === undefined) return await sessionRefusal(verifier, headers, address, was, scope);
    const now = tokens && looksLikeToken(credential) ? await tokens.authenticate(credential) : await verifier.recheck(credential, address);
    if (now instanceof AppError) return now;
    if (now.clientId !== was.clientId || now.keyId !== was.keyId) return new AppError('invalid_api_key', "The credential no longer names this stream's key");
    requireScope(now.role, scope);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/**
 * The tenant principal of a request's key (or user access token, or console
 * session cookie), with `scope` (any tenant key when absent), or 401 (429
 * once the address failed too often) or 403 naming the missing scope.
 * `method` is the request's: a cookie-authenticated request that is not
 * GET/HEAD must come from the console's own origin (absent: treated as one
 * that changes state).
 */
export async function tenantPrincipal(
  verifier: KeyVerifier,
  headers: IncomingHttpHeaders,
  address: string,
  scope?: Scope,
  method?: string,
): Promise<Principal> {
  return (await tenantRequest(verifier, headers, address, scope, method)).principal;
}

async function tenantRequest(
  verifier: KeyVerifier,
  headers: IncomingHttpHeaders,
  address: string,
  scope?: Scope,
  method?: string,
): Promise<{ principal: Principal; session?: SessionInfo }> {
  const credential = extractApiKey(headers);
  const tokens = userTokens.get(verifier);
  const sessions = consoleSessions.get(verifier);
  const sessionId = credential === undefined && sessions && tokens ? sessionCookie(headers) : undefined;
  let session: SessionInfo | undefined;
  let principal: Principal;
  if (sessionId !== undefined) {
    session = { id: sessionId, reference: sessions!.reference(sessionId), session: await liveSession(sessions!, sessionId) };
    if (!SAFE_METHODS.has(method ?? 'POST')) requireSameOrigin(headers);
    principal = await sessionPrincipal(verifier, tokens!, sessions!, session, address);
  } else {
    principal =
      tokens && credential !== undefined && looksLikeToken(credential)
        ? await tokens.authenticate(credential)
        : await verifier.authenticate(credential, address);
  }
  if (principal.clientId === null) {
    throw new AppError('insufficient_scope', 'Admin keys work only on the admin API');
  }
  if (scope) requireScope(principal.role, scope);
  return { principal, session };
}

/** `tenantPrincipal` as Koa middleware: the principal goes to `ctx.state.principal`, a console session to `ctx.state.session`. */
export function authenticate(verifier: KeyVerifier, scope?: Scope) {
  return async function requireKey(ctx: Context, next: Next): Promise<void> {
    const { principal, session } = await tenantRequest(verifier, ctx.headers, ctx.ip, scope, ctx.method);
    ctx.state.principal = principal;
    if (session) ctx.state.session = session;
    await next();
  };
}

/**
 * For requests that outlive their authentication by a console session (a
 * live tail): undefined while the session, and the user or key behind it,
 * still hold with `scope`; otherwise the error a new request with the cookie
 * would get. Also undefined when the request carries no session cookie.
 */
export async function sessionRefusal(
  verifier: KeyVerifier,
  headers: IncomingHttpHeaders,
  address: string,
  was: Principal,
  scope: Scope,
): Promise<AppError | undefined> {
  const sessions = consoleSessions.get(verifier);
  const tokens = userTokens.get(verifier);
  const id = extractApiKey(headers) === undefined ? sessionCookie(headers) : undefined;
  if (!sessions || !tokens || id === undefined) return undefined;
  try {
    const info = { id, reference: sessions.reference(id), session: await liveSession(sessions, id) };
    const now = await sessionPrincipal(verifier, tokens, sessions, info, address, false);
    if (now.clientId !== was.clientId || now.keyId !== was.keyId) return new AppError('invalid_credentials', 'Your session has ended; sign in again');
    requireScope(now.role, scope);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

async function liveSession(sessions: ConsoleSessions, id: string): Promise<ConsoleSession> {
  const session = await sessions.find(id);
  if (!session) throw new AppError('invalid_credentials', 'Your session has ended or expired; sign in again');
  return session;
}

/**
 * The principal a session stands for, re-resolved on every request through
 * the same caches (and invalidations) as the user's tokens or the key
 * itself: a deactivation or a revocation ends the session within a second.
 * A session that can no longer act is deleted.
 */
async function sessionPrincipal(
  verifier: KeyVerifier,
  tokens: TenantTokens,
  sessions: ConsoleSessions,
  { id, reference, session }: SessionInfo,
  address: string,
  recordUse = true,
): Promise<Principal> {
  try {
    const principal =
      session.kind === 'user' ? await tokens.resumeSession({ ...session, id: reference }) : await verifier.resumeKey(session.keyId, address, recordUse);
    if (principal.clientId !== session.clientId || principal.role !== session.role)
      throw new AppError('invalid_credentials', 'Your session has ended; sign in again');
    return principal;
  } catch (err) {
    if (err instanceof AppError && err.status === 401) await sessions.end(id).catch(() => {});
    throw err;
  }
}

/** The console session cookie's value, if the request carries one. */
export function sessionCookie(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CONSOLE_SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/**
 * CSRF defence for cookie sessions, beside SameSite=Strict (which old
 * browsers and same-site sibling origins do not honour): a request that
 * changes state must say it comes from this origin. Browsers set
 * `Sec-Fetch-Site` and `Origin` themselves (no page can forge them), and
 * a non-browser caller has no victim's cookie to ride on.
 */
export function requireSameOrigin(headers: IncomingHttpHeaders): void {
  if (!refusesCrossSite(headers) && (headers['sec-fetch-site'] === 'same-origin' || headers.origin !== undefined)) return;
  throw new AppError('cross_origin_refused', 'A signed-in request that changes something must come from the console itself (same origin)');
}

/**
 * Sign-in without a session yet: a browser's request from another site is
 * refused (login CSRF: signing the victim in as someone else); a caller
 * that sends neither header (curl, a test) is not a browser and passes.
 */
export function refuseCrossSite(headers: IncomingHttpHeaders): void {
  if (refusesCrossSite(headers)) throw new AppError('cross_origin_refused', 'Sign in from the console itself (same origin)');
}

// true when Sec-Fetch-Site or Origin says another site sent the request
function refusesCrossSite(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin';
  const origin = headers.origin;
  return origin !== undefined && (!headers.host || hostOf(origin) !== headers.host.toLowerCase());
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
