import type { Context } from 'koa';
import { z } from 'zod';
import { getClient } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { isStorableDate } from '@central-logger/events';
import {
  createKey,
  keyJson,
  listKeys,
  parseDuration,
  parseRotateKeyRequest,
  publishInvalidation,
  revokeKeyEverywhere,
  rotateKeyEverywhere,
  ROLES,
} from '@central-logger/keys';
import { parseWith, readJson } from '../middleware/json-body.js';
import { audited, recordAudit } from '../store/audit.js';
import { asSql } from '../store/db.js';
import { setKeyExpiry } from '../store/key-expiry.js';
import type { RouteDeps } from './deps.js';

const issueBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    role: z.enum(ROLES),
    client_id: z.string().min(1).max(63).optional(),
    expires_in: z
      .string()
      .refine((s) => parseDuration(s) !== undefined, 'use a number and a unit, e.g. 90d, 24h')
      .optional(),
  })
  .refine((b) => (b.role === 'admin') === (b.client_id === undefined), {
    path: ['client_id'],
    message: 'an admin key belongs to no client; every other role needs client_id',
  });

/**
 * `POST /admin/api/keys`: the secret is in this response and nowhere else. A
 * client's key obeys MAX_KEYS_PER_CLIENT as a tenant's own does (409); the
 * operator raises the setting to go past it.
 */
export function issueKeyRoute(deps: RouteDeps) {
  return async function issue(ctx: Context): Promise<void> {
    const body = await readJson(ctx, issueBody);
    const clientId = body.client_id ?? null;
    if (clientId !== null) await requireActiveClient(deps, clientId);
    const expiresAt = body.expires_in === undefined ? null : new Date(Date.now() + parseDuration(body.expires_in)!);
    const { key, record } = await deps.sql.begin(async (tx) => {
      const created = await createKey(asSql(tx), {
        name: body.name,
        role: body.role,
        clientId,
        expiresAt,
        bcryptCost: deps.config.BCRYPT_COST,
        maxKeysPerClient: deps.config.MAX_KEYS_PER_CLIENT,
      });
      const r = created.record;
      await recordAudit(tx, audited.keyIssued(ctx.state.admin.name, r, ctx.ip));
      return created;
    });
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { key, ...keyJson(record), warning: 'Save this key securely - it will not be shown again!' };
  };
}

async function requireActiveClient(deps: RouteDeps, clientId: string): Promise<void> {
  const client = await getClient(deps.sql, clientId);
  if (!client) throw new AppError('validation_failed', 'The request is invalid', { details: [{ field: 'client_id', message: `no client "${clientId}"` }] });
  if (!client.isActive) throw new AppError('conflict', `Client "${clientId}" is inactive`);
}

const listQuery = z.strictObject({ client: z.string().min(1).max(63).optional() });

/** `GET /admin/api/keys[?client=<id>]` */
export function listKeysRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const { client } = parseWith(listQuery, ctx.query);
    if (client !== undefined && !(await getClient(deps.sql, client))) throw new AppError('not_found', `No client "${client}"`);
    const keys = await listKeys(deps.sql, client === undefined ? {} : { clientId: client });
    ctx.body = { data: keys.map(keyJson) };
  };
}

/**
 * `DELETE /admin/api/keys/:id` (id or prefix): stops working on every process
 * within a second. The audit row commits with the revocation.
 */
export function revokeKeyRoute(deps: RouteDeps) {
  return async function revoke(ctx: Context): Promise<void> {
    const idOrPrefix = String(ctx.params.id);
    const { result, announced } = await revokeKeyEverywhere(deps.sql, deps.redis, idOrPrefix, undefined, (tx, r) =>
      recordAudit(tx, {
        actor: ctx.state.admin.name,
        action: 'key.revoke',
        target: `key:${r.id}`,
        details: { prefix: r.prefix, name: r.name, client_id: r.clientId },
        ip: ctx.ip,
      }),
    );
    if (!result) throw new AppError('not_found', `No API key with id or prefix "${idOrPrefix}"`);
    ctx.body = { ...keyJson(result), announced };
  };
}

// Postgres stores years 1 to 9999 only: another date is a 400, not a 500 from the update
const expiryBody = z
  .object({
    expires_at: z.iso
      .datetime({ offset: true })
      .refine((s) => isStorableDate(new Date(s)), 'must be from year 1 to year 9999 (UTC)')
      .nullable(),
  })
  .strict();

/** `PATCH /admin/api/keys/:id` `{expires_at}`: null clears it; caches everywhere forget the key. */
export function setKeyExpiryRoute(deps: RouteDeps) {
  return async function setExpiry(ctx: Context): Promise<void> {
    const idOrPrefix = String(ctx.params.id);
    const body = await readJson(ctx, expiryBody);
    const expiresAt = body.expires_at === null ? null : new Date(body.expires_at);
    const change = await deps.sql.begin(async (tx) => {
      const c = await setKeyExpiry(tx, idOrPrefix, expiresAt);
      if (c)
        await recordAudit(tx, {
          actor: ctx.state.admin.name,
          action: 'key.expiry',
          target: `key:${c.id}`,
          details: { prefix: c.prefix, client_id: c.clientId, from: c.previous, to: c.expiresAt },
          ip: ctx.ip,
        });
      return c;
    });
    if (!change) throw new AppError('not_found', `No API key with id or prefix "${idOrPrefix}"`);
    // announced after commit, so no process can reload the old expiry and cache it again
    const announced = await publishInvalidation(deps.redis, { keyId: change.id }).then(
      () => true,
      () => false,
    );
    ctx.body = { id: change.id, prefix: change.prefix, client_id: change.clientId, expires_at: change.expiresAt, announced };
  };
}

/**
 * `POST /admin/api/keys/:id/rotate` `{grace?: "24h"}`: a new key (secret shown
 * once) that works at once; the old one keeps working until the grace ends.
 */
export function rotateKeyRoute(deps: RouteDeps) {
  return async function rotate(ctx: Context): Promise<void> {
    const { graceMs } = parseRotateKeyRequest(await readJson(ctx, z.unknown()));
    const { result, announced } = await rotateKeyEverywhere(deps.sql, deps.redis, undefined, String(ctx.params.id), {
      graceMs,
      bcryptCost: deps.config.BCRYPT_COST,
      maxKeysPerClient: deps.config.MAX_KEYS_PER_CLIENT,
      inTransaction: (tx, r) =>
        recordAudit(tx, {
          actor: ctx.state.admin.name,
          action: 'key.rotate',
          target: `key:${r.previous.id}`,
          details: { prefix: r.previous.prefix, replaced_by: r.record.prefix, old_expires_at: r.previous.expiresAt },
          ip: ctx.ip,
        }),
    });
    const { previous, record: next, key } = result;
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { key, ...keyJson(next), previous: keyJson(previous), announced, warning: 'Save this key securely - it will not be shown again!' };
  };
}
