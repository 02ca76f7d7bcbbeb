import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Next } from 'koa';
import { AppError } from '@central-logger/errors';
import { extractApiKey, requireScope, type KeyVerifier, type Principal, type Scope } from '@central-logger/keys';

declare module 'koa' {
  interface DefaultState {
    principal: Principal;
  }
}

/**
 * The tenant principal of a request's key, with `scope` (any tenant key when
 * absent), or 401 (429 once the address failed too often) or 403 naming the
 * missing scope.
 */
export async function tenantPrincipal(verifier: KeyVerifier, headers: IncomingHttpHeaders, address: string, scope?: Scope): Promise<Principal> {
  const principal = await verifier.authenticate(extractApiKey(headers), address);
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
