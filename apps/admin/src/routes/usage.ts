import type { Context } from 'koa';
import { z } from 'zod';
import { getClient } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { isStorableDate } from '@central-logger/events';
import { getKey } from '@central-logger/keys';
import { authFailuresBySource, authFailuresOverTime, HOUR_MS, queryUsage, usageJson } from '@central-logger/usage';
import { parseWith } from '../middleware/json-body.js';
import type { RouteDeps } from './deps.js';

const DAY_MS = 24 * HOUR_MS;
/** Most buckets one answer holds: 31 days of hours, or about 13 months of days. */
const MAX_BUCKETS = 744;

// Postgres stores years 1 to 9999 only: another date is a 400 here, not a 500 from the query
const instant = z.iso
  .datetime({ offset: true })
  .transform((s) => new Date(s))
  .refine(isStorableDate, 'must be from year 1 to year 9999 (UTC)');

const usageQuery = z
  .object({
    client: z.string().min(1).max(63).optional(),
    key: z.string().min(1).max(63).optional(),
    from: instant.optional(),
    to: instant.optional(),
    granularity: z.enum(['hour', 'day']).default('hour'),
    by: z.enum(['client', 'key']).default('client'),
  })
  .strict();

/**
 * `GET /admin/api/usage?client&key&from&to&granularity=hour|day&by=client|key`:
 * requests, events accepted, bytes, auth failures, 429s and rejected events by
 * reason, per bucket and client (or key). Default range: the last 24 hours
 * (hour) or 30 days (day). Without a client or key filter the answer also
 * carries every failed authentication per bucket (`auth_failures`).
 */
export function usageRoute(deps: RouteDeps) {
  return async function usage(ctx: Context): Promise<void> {
    const q = parseWith(usageQuery, ctx.query);
    const step = q.granularity === 'hour' ? HOUR_MS : DAY_MS;
    const to = q.to ?? new Date(Math.ceil((Date.now() + 1) / step) * step);
    const from = q.from ?? new Date(to.getTime() - (q.granularity === 'hour' ? 24 : 30) * step);
    if (from.getUTCFullYear() < 1)
      throw new AppError('validation_failed', 'The request is invalid', {
        details: [{ field: 'from', message: 'defaults to a range before year 1; give from' }],
      });
    if (from >= to) throw new AppError('validation_failed', 'The request is invalid', { details: [{ field: 'from', message: 'must be before to' }] });
    if ((to.getTime() - from.getTime()) / step > MAX_BUCKETS) {
      throw new AppError('validation_failed', 'The request is invalid', {
        details: [{ field: 'from', message: `at most ${MAX_BUCKETS} ${q.granularity}s per request` }],
      });
    }
    if (q.client !== undefined && !(await getClient(deps.sql, q.client))) throw new AppError('not_found', `No client "${q.client}"`);
    const key = q.key === undefined ? undefined : await getKey(deps.sql, undefined, q.key);
    if (q.key !== undefined && !key) throw new AppError('not_found', `No API key with id or prefix "${q.key}"`);
    const filter = { from, to, granularity: q.granularity, by: q.by, ...(q.client ? { clientId: q.client } : {}), ...(key ? { keyId: key.id } : {}) };
    const rows = await queryUsage(deps.sql, filter);
    ctx.body = {
      from: from.toISOString(),
      to: to.toISOString(),
      granularity: q.granularity,
      data: rows.map(usageJson),
      ...(q.client || key
        ? {}
        : { auth_failures: (await authFailuresOverTime(deps.sql, filter)).map((r) => ({ bucket: r.bucket.toISOString(), failures: r.failures })) }),
    };
  };
}

/** Longest range of one auth-failure breakdown; failures are kept SECURITY_RECORDS_RETENTION_DAYS (90 by default) anyway. */
const MAX_FAILURE_RANGE_MS = 400 * DAY_MS;

const failuresQuery = z.object({ from: instant.optional(), to: instant.optional(), limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

/**
 * `GET /admin/api/usage/auth-failures?from&to&limit=20`: failed
 * authentications by address (admin sign-ins included) and by key prefix,
 * most first, by the time they happened. Default range: the last 24 hours.
 */
export function authFailuresRoute(deps: RouteDeps) {
  return async function failures(ctx: Context): Promise<void> {
    const q = parseWith(failuresQuery, ctx.query);
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - DAY_MS);
    if (from >= to) throw new AppError('validation_failed', 'The request is invalid', { details: [{ field: 'from', message: 'must be before to' }] });
    if (to.getTime() - from.getTime() > MAX_FAILURE_RANGE_MS)
      throw new AppError('validation_failed', 'The request is invalid', { details: [{ field: 'from', message: 'at most 400 days per request' }] });
    const r = await authFailuresBySource(deps.sql, { from, to, limit: q.limit });
    ctx.body = {
      from: from.toISOString(),
      to: to.toISOString(),
      by_address: r.byAddress.map((a) => ({ address: a.address, failures: a.failures, last_at: a.lastAt, reasons: a.reasons })),
      by_key_prefix: r.byKeyPrefix.map((k) => ({
        key_prefix: k.keyPrefix,
        client_id: k.clientId,
        failures: k.failures,
        last_at: k.lastAt,
        reasons: k.reasons,
      })),
    };
  };
}
