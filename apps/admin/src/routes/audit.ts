import type { Context } from 'koa';
import { z } from 'zod';
import { parseWith } from '../middleware/json-body.js';
import { listAudit } from '../store/audit.js';
import type { RouteDeps } from './deps.js';

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .transform((c) => Buffer.from(c, 'base64url').toString('utf8'))
    .refine((id) => /^[1-9]\d{0,17}$/.test(id), 'not a cursor this API returned')
    .optional(),
});

/** `GET /admin/api/audit?limit&cursor`: newest first; `next_cursor` is null on the last page. */
export function listAuditRoute(deps: RouteDeps) {
  return async function list(ctx: Context): Promise<void> {
    const { limit, cursor } = parseWith(auditQuery, ctx.query);
    const rows = await listAudit(deps.sql, { limit: limit + 1, ...(cursor === undefined ? {} : { beforeId: cursor }) });
    const page = rows.slice(0, limit);
    const more = rows.length > limit;
    ctx.body = {
      data: page.map((r) => ({ id: r.id, actor: r.actor, action: r.action, target: r.target, details: r.details, ip: r.ip, at: r.at })),
      next_cursor: more ? Buffer.from(page[page.length - 1]!.id).toString('base64url') : null,
    };
  };
}
