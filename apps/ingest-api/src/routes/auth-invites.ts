import type { Context } from 'koa';
import { z } from 'zod';
import { AppError } from '@central-logger/errors';
import { readJsonBody } from '@central-logger/http';
import { acceptInvite, createInvite, inviteJson, listInvites, MAX_PASSWORD_LENGTH } from '@central-logger/tenant-auth';
import type { Sql } from '@central-logger/db';

const inviteBody = z.strictObject({ username: z.string().min(1).max(64), role: z.enum(['owner', 'reader']) });
const acceptBody = z.strictObject({ token: z.string().min(1).max(256), password: z.string().min(1).max(MAX_PASSWORD_LENGTH) });

function parse<T>(schema: z.ZodType<T>, body: unknown, shape: string): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new AppError('validation_failed', `The body must be ${shape}`, {
    details: parsed.error.issues.map((i) => ({ field: i.path.join('.') || undefined, message: i.message })),
  });
}

/** `POST /api/v1/auth/invites` `{username, role}` (owner): a one-time invitation, valid 24 h; its token is in this answer only. */
export function createInviteRoute(sql: Sql) {
  return async function invite(ctx: Context): Promise<void> {
    const body = parse(inviteBody, await readJsonBody(ctx.req, 4 * 1024), '{"username": "...", "role": "owner" | "reader"}');
    const p = ctx.state.principal;
    const { invite, token } = await createInvite(sql, p.clientId!, body, { actor: p.prefix, ip: ctx.ip });
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...inviteJson(invite), token, accept: { method: 'POST', path: '/api/v1/auth/invites/accept', body: { token, password: '…' } } };
  };
}

/** `GET /api/v1/auth/invites` (owner): the tenant's invitations, never a token. */
export function listInvitesRoute(sql: Sql) {
  return async function list(ctx: Context): Promise<void> {
    ctx.body = { data: (await listInvites(sql, ctx.state.principal.clientId!)).map(inviteJson) };
  };
}

/** `POST /api/v1/auth/invites/accept` `{token, password}` (no key): the invited person sets a password; then they sign in. */
export function acceptInviteRoute(sql: Sql, bcryptCost: number) {
  return async function accept(ctx: Context): Promise<void> {
    const body = parse(acceptBody, await readJsonBody(ctx.req, 4 * 1024), '{"token": "...", "password": "..."}');
    const user = await acceptInvite(sql, body.token, body.password, { ip: ctx.ip, bcryptCost });
    ctx.status = 201;
    ctx.body = { user };
  };
}
