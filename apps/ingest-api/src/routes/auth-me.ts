import type { Context } from 'koa';
import { isUserPrincipal } from '@central-logger/tenant-auth';

/** `GET /api/v1/auth/me`: who is calling, by access token or by API key. */
export function whoAmI(ctx: Context): void {
  const p = ctx.state.principal;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = isUserPrincipal(p)
    ? { via: 'token', client_id: p.clientId, role: p.role, user: { id: p.userId, username: p.username }, token: { id: p.tokenId, expires_at: p.expiresAt } }
    : { via: 'api_key', client_id: p.clientId, role: p.role, key: { id: p.keyId, prefix: p.prefix } };
}
