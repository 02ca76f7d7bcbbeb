import type { Context } from 'koa';
import { recordAudit, type Sql } from '@central-logger/db';
import { readJsonBody } from '@central-logger/http';
import { createKey, keyJson, parseCreateKeyRequest } from '@central-logger/keys';

/**
 * `POST /api/v1/keys`: a new key for the caller's tenant; the secret is in
 * this response only. Audited in the same transaction. 409 when the tenant
 * holds MAX_KEYS_PER_CLIENT usable keys already.
 */
export function createOwnKey(sql: Sql, bcryptCost: number, maxKeysPerClient: number) {
  return async function postKey(ctx: Context): Promise<void> {
    const input = parseCreateKeyRequest(await readJsonBody(ctx.req, 16 * 1024));
    const by = ctx.state.principal.prefix as string;
    const { key, record } = await sql.begin(async (tx) => {
      const created = await createKey(tx as unknown as Sql, { ...input, clientId: ctx.state.principal.clientId!, bcryptCost, maxKeysPerClient });
      const r = created.record;
      await recordAudit(tx, {
        actor: by,
        action: 'key.issue',
        target: `key:${r.id}`,
        details: { prefix: r.prefix, name: r.name, role: r.role, client_id: r.clientId, expires_at: r.expiresAt, via: 'self-service' },
        ip: ctx.ip,
      });
      return created;
    });
    ctx.state.log.info({ client_id: record.clientId, key_prefix: record.prefix, role: record.role, by: ctx.state.principal.prefix }, 'api key created');
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { key, ...keyJson(record) };
  };
}
