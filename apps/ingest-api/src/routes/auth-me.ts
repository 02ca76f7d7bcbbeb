import type { Context } from 'koa';
import { isUserPrincipal } from '@central-logger/tenant-auth';

/** `GET /api/v1/auth/me`: who is calling, by access token, API key or console session (`session` then says until when). */
export function whoAmI(ctx: Context): void {
  const p = ctx.state.principal;
  const s = ctx.state.session;
  ctx.set('Cache-Control', 'no-store');
  const who = isUserPrincipal(p)
    ? {
        via: p.via,
        client_id: p.clientId,
        role: p.role,
        user: { id: p.userId, username: p.username },
        ...(s ? {} : { token: { id: p.tokenId, expires_at: p.expiresAt } }),
      }
    : { via: 'api_key', client_id: p.clientId, role: p.role, key: { id: p.keyId, prefix: p.prefix } };
  ctx.body = s ? { ...who, session: { id: s.reference, kind: s.session.kind, expires_at: s.session.expiresAt } } : who;
}
