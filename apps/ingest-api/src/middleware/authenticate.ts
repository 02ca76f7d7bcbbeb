import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { AppError } from '@central-logger/errors';
import { extractApiKey, requireScope, type Invalidation, type KeyVerifier, type Principal, type Scope } from '@central-logger/keys';
import { looksLikeToken, type TenantTokens } from '@central-logger/tenant-auth';

declare module 'koa' {
  interface DefaultState {
    principal: Principal;
  }
}

// the tenant users' token verifier of each key verifier, set once by the app (acceptUserTokens)
const userTokens = new WeakMap<KeyVerifier, TenantTokens>();

/** Makes every route authenticated by `verifier` also accept tenant users' access tokens as `Authorization: Bearer` (issue 14). */
export function acceptUserTokens(verifier: KeyVerifier, tokens: TenantTokens): void {
  userTokens.set(verifier, tokens);
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
export async function credentialRefusal(verifier: KeyVerifier, headers: IncomingHttpHeaders, address: string, was: Principal, scope: Scope): Promise<AppError | undefined> {
  try {
    const credential = extractApiKey(headers);
    const tokens = userTokens.get(verifier);
    // no key nor token in the headers: a credential this module does not know (a console session) rechecks itself
    if (credential === undefined) return undefined;
    const now = tokens && looksLikeToken(credential) ? await tokens.authenticate(credential) : await verifier.recheck(credential, address);
    if (now instanceof AppError) return now;
    if (now.clientId !== was.clientId || now.keyId !== was.keyId) return new AppError('invalid_api_key', 'The credential no longer names this stream\'s key');
    requireScope(now.role, scope);
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/**
 * The tenant principal of a request's key (or user access token), with `scope` (any tenant key when
 * absent), or 401 (429 once the address failed too often) or 403 naming the
 * missing scope.
 */
export async function tenantPrincipal(verifier: KeyVerifier, headers: IncomingHttpHeaders, address: string, scope?: Scope): Promise<Principal> {
  const credential = extractApiKey(headers);
  const tokens = userTokens.get(verifier);
  const principal = tokens && credential !== undefined && looksLikeToken(credential)
    ? await tokens.authenticate(credential)
    : await verifier.authenticate(credential, address);
  if (principal.clientId === null) {
    throw new AppError('insufficient_scope', 'Admin keys work only on the admin API');
  }
  if (scope) requireScope(principal.role, scope);
  return principal;
}

/** `tenantPrincipal` as Koa middleware: the principal goes to `ctx.state.principal`. */
export function authenticate(verifier: KeyVerifier, scope?: Scope) {
  return async function requireKey(ctx: Context, next: Next): Promise<void> {
    ctx.state.principal = await tenantPrincipal(verifier, ctx.headers, ctx.ip, scope);
    await next();
  };
}
