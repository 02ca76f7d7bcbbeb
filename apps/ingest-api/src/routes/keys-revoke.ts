import type { Context } from 'koa';
import { recordAudit, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { keyJson, revokeKeyEverywhere } from '@central-logger/keys';
import type { RedisClient as Redis } from '@central-logger/redis';

/**
 * `DELETE /api/v1/keys/:id` (id or prefix): revokes one of the caller's
 * tenant's keys everywhere; another tenant's is 404. The audit row (actor:
 * the owner key's prefix) commits with the revocation.
 */
export function revokeOwnKey(sql: Sql, redis: Redis) {
  return async function deleteKey(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const by = ctx.state.principal.prefix as string;
    const { result } = await revokeKeyEverywhere(sql, redis, id, ctx.state.principal.clientId!, (tx, r) =>
      recordAudit(tx, {
        actor: by,
        action: 'key.revoke',
        target: `key:${r.id}`,
        details: { prefix: r.prefix, name: r.name, client_id: r.clientId, via: 'self-service' },
        ip: ctx.ip,
      }),
    );
    if (!result) throw new AppError('not_found', `No API key "${id}"`);
    ctx.state.log.info({ client_id: result.clientId, key_prefix: result.prefix, by: ctx.state.principal.prefix }, 'api key revoked');
    ctx.body = keyJson(result);
  };
}
