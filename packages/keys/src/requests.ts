import { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { parseDuration } from './duration.js';
import { DEFAULT_ROTATION_GRACE_MS } from './rotation.js';
import type { KeyRecord } from './store.js';

/**
 * An expiry given either as a duration from now (`90d`) or as an absolute
 * date (`2027-01-31`, `2027-01-31T12:00:00Z`). Null: never. Throws a 400
 * AppError naming the field on anything else or a date in the past.
 */
export function expiryFrom(input: { expiresIn?: string | undefined; expiresAt?: string | undefined }, now = Date.now()): Date | null {
  if (input.expiresIn !== undefined && input.expiresAt !== undefined) {
    throw new AppError('validation_failed', 'Give expires_in or expires_at, not both');
  }
  if (input.expiresIn !== undefined) {
    const ms = parseDuration(input.expiresIn);
    if (ms === undefined) throw new AppError('validation_failed', `Invalid duration "${input.expiresIn}": use a number and a unit, e.g. 90d, 24h, 30m`);
    return new Date(now + ms);
  }
  if (input.expiresAt !== undefined) {
    const at = /^\d{4}-\d{2}-\d{2}(T.+)?$/.test(input.expiresAt) ? new Date(input.expiresAt) : new Date(NaN);
    if (Number.isNaN(at.getTime()))
      throw new AppError('validation_failed', `Invalid date "${input.expiresAt}": use ISO 8601, e.g. 2027-01-31 or 2027-01-31T12:00:00Z`);
    if (at.getTime() <= now) throw new AppError('validation_failed', `The expiry ${at.toISOString()} is in the past`);
    return at;
  }
  return null;
}

/** A rotation grace period (`24h`); the default when absent. */
export function graceFrom(text: string | undefined): number {
  if (text === undefined) return DEFAULT_ROTATION_GRACE_MS;
  const ms = parseDuration(text);
  if (ms === undefined) throw new AppError('validation_failed', `Invalid grace period "${text}": use a number and a unit, e.g. 24h, 30m, 7d`);
  return ms;
}

/** `POST /api/v1/keys` body; also the OpenAPI document's (apps/ingest-api/src/routes/openapi.ts). */
export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100).describe('What the key is for, e.g. "Production agent"'),
  /** Tenants issue tenant roles only; admin keys come from the provider. */
  role: z.enum(['agent', 'reader', 'owner']).default('agent').describe('agent writes logs, reader reads them, owner does both and manages keys'),
  expires_in: z.string().optional().describe('A duration from now, e.g. 90d, 24h'),
  expires_at: z.string().optional().describe('An ISO 8601 date or date-time; not with expires_in'),
});

/** `POST /api/v1/keys/:id/rotate` body. */
export const rotateKeyBody = z.strictObject({ grace: z.string().optional().describe('How long the old key keeps working, e.g. 24h (the default)') });

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new AppError('validation_failed', 'The request body is invalid', {
    details: result.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })),
  });
}

/** `POST /api/v1/keys` body: name, role (agent | reader | owner), and an optional expiry. */
export function parseCreateKeyRequest(body: unknown, now = Date.now()): { name: string; role: 'agent' | 'reader' | 'owner'; expiresAt: Date | null } {
  const b = parse(createKeyBody, body);
  return { name: b.name, role: b.role, expiresAt: expiryFrom({ expiresIn: b.expires_in, expiresAt: b.expires_at }, now) };
}

/** `POST /api/v1/keys/:id/rotate` body: an optional grace period. */
export function parseRotateKeyRequest(body: unknown): { graceMs: number } {
  return { graceMs: graceFrom(parse(rotateKeyBody, body).grace) };
}

/** A key as the API shows it: never its secret or hash. */
export function keyJson(k: KeyRecord): Record<string, unknown> {
  return {
    id: k.id,
    prefix: k.prefix,
    name: k.name,
    role: k.role,
    client_id: k.clientId,
    status: k.status,
    created_at: k.createdAt,
    last_used_at: k.lastUsedAt,
    last_used_ip: k.lastUsedIp,
    expires_at: k.expiresAt,
    revoked_at: k.revokedAt,
    rotated_from: k.rotatedFrom,
    replaced_by: k.replacedBy,
    request_count: k.requestCount,
    rotation_due: k.rotationDue,
  };
}
