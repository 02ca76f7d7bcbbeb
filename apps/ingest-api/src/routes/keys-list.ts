import type { Context } from 'koa';
import type { Sql } from '@central-logger/db';
import { keyJson, listKeys } from '@central-logger/keys';

/** `GET /api/v1/keys`: the caller's tenant's keys, never a secret. */
export function listOwnKeys(sql: Sql) {
  return async function getKeys(ctx: Context): Promise<void> {
    const keys = await listKeys(sql, { clientId: ctx.state.principal.clientId! });
    ctx.body = { data: keys.map(keyJson) };
  };
}
