import type { Context } from 'koa';
import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { keyJson, revokeKeyEverywhere } from '@central-logger/keys';
import type { Redis } from 'ioredis';

/** `DELETE /api/v1/keys/:id` (id or prefix): revokes one of the caller's tenant's keys everywhere; another tenant's is 404. */
export function revokeOwnKey(sql: Sql, redis: Redis) {
  return async function deleteKey(ctx: Context): Promise<void> {
    const id = String(ctx.params.id);
    const { result } = await revokeKeyEverywhere(sql, redis, id, ctx.state.principal.clientId!);
    if (!result) throw new AppError('not_found', `No API key "${id}"`);
    ctx.state.log.info({ client_id: result.clientId, key_prefix: result.prefix, by: ctx.state.principal.prefix }, 'api key revoked');
    ctx.body = keyJson(result);
  };
}
