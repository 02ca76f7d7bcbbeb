import type { Context, Next } from 'koa';
import { AppError } from '@central-logger/errors';
import { extractApiKey, requireScope, type KeyVerifier, type Principal, type Scope } from '@central-logger/keys';

declare module 'koa' {
  interface DefaultState {
    principal: Principal;
  }
}

/** Resolves the request's key to a tenant principal with `scope` (any tenant key when absent), or answers 401/403. */
export function authenticate(verifier: KeyVerifier, scope?: Scope) {
  return async function requireKey(ctx: Context, next: Next): Promise<void> {
    const key = extractApiKey(ctx.headers);
    if (key === undefined) throw new AppError('api_key_required', 'API key required');
    const principal = await verifier.verify(key);
    if (principal.clientId === null) {
      throw new AppError('insufficient_scope', 'Admin keys work only on the admin API');
    }
    if (scope) requireScope(principal.role, scope);
    ctx.state.principal = principal;
    await next();
  };
}
