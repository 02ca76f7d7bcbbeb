import type { Context } from 'koa';
import type { Sql } from '@central-logger/db';
import { readJsonBody } from '@central-logger/http';
import { createKey, keyJson, parseCreateKeyRequest } from '@central-logger/keys';

/** `POST /api/v1/keys`: a new key for the caller's tenant; the secret is in this response only. */
export function createOwnKey(sql: Sql, bcryptCost: number) {
  return async function postKey(ctx: Context): Promise<void> {
    const input = parseCreateKeyRequest(await readJsonBody(ctx.req, 16 * 1024));
    const { key, record } = await createKey(sql, { ...input, clientId: ctx.state.principal.clientId!, bcryptCost });
    ctx.state.log.info({ client_id: record.clientId, key_prefix: record.prefix, role: record.role, by: ctx.state.principal.prefix }, 'api key created');
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { key, ...keyJson(record) };
  };
}
