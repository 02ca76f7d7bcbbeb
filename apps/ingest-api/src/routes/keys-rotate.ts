import type { Context } from 'koa';
import { recordAudit, type Sql } from '@central-logger/db';
import { readJsonBody } from '@central-logger/http';
import { keyJson, parseRotateKeyRequest, rotateKeyEverywhere } from '@central-logger/keys';
import type { RedisClient as Redis } from '@central-logger/redis';

/**
 * `POST /api/v1/keys/:id/rotate` body `{"grace": "24h"}` (optional): a new
 * key that works at once; the old one keeps working for the grace period.
 * Another tenant's key is 404. The audit row (the old key's new expiry, the
 * new key) commits with the rotation. At MAX_KEYS_PER_CLIENT a rotation is
 * still allowed, unless the key's own predecessor is still in its grace (409;
 * see rotateKey).
 */
export function rotateOwnKey(sql: Sql, redis: Redis, bcryptCost: number, maxKeysPerClient: number) {
  return async function postRotate(ctx: Context): Promise<void> {
    const { graceMs } = parseRotateKeyRequest(await readJsonBody(ctx.req, 16 * 1024));
    const by = ctx.state.principal.prefix as string;
    const { result } = await rotateKeyEverywhere(sql, redis, ctx.state.principal.clientId!, String(ctx.params.id), {
      graceMs,
      bcryptCost,
      maxKeysPerClient,
      inTransaction: (tx, r) =>
        recordAudit(tx, {
          actor: by,
          action: 'key.rotate',
          target: `key:${r.previous.id}`,
          details: {
            prefix: r.previous.prefix,
            replaced_by: r.record.prefix,
            old_expires_at: r.previous.expiresAt,
            client_id: r.previous.clientId,
            via: 'self-service',
          },
          ip: ctx.ip,
        }),
    });
    ctx.state.log.info(
      {
        client_id: result.record.clientId,
        key_prefix: result.record.prefix,
        replaces: result.previous.prefix,
        grace_ms: graceMs,
        by: ctx.state.principal.prefix,
      },
      'api key rotated',
    );
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { key: result.key, ...keyJson(result.record), previous: keyJson(result.previous) };
  };
}
