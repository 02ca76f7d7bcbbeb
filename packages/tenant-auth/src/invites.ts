import { createHash, randomBytes } from 'node:crypto';
import { isUniqueViolation, recordAudit, type Sql, type Tx } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { hashPassword, passwordProblem } from './passwords.js';
import { newUserId, USER_ROLES, USERNAME_PATTERN, type UserRole } from './users.js';

/** An invite is valid this long, and once. */
export const INVITE_TTL_MS = 24 * 3_600_000;
const INVITE_TOKEN = /^inv1_[A-Za-z0-9_-]{43}$/;

export interface Invite {
  id: string;
  clientId: string;
  username: string;
  role: UserRole;
  createdBy: string;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

export function inviteJson(i: Invite) {
  return {
    id: i.id,
    client_id: i.clientId,
    username: i.username,
    role: i.role,
    created_by: i.createdBy,
    created_at: i.createdAt,
    expires_at: i.expiresAt,
    accepted_at: i.acceptedAt,
  };
}

/**
 * An owner invites `username` as `role` to their own tenant: the invite and
 * its audit row in one transaction; the secret token (the one-time link) is
 * in the answer only. A username already taken is 409 now; one taken before
 * the invite is accepted is 409 then.
 */
export async function createInvite(
  sql: Sql,
  clientId: string,
  req: { username: string; role: string },
  by: { actor: string; ip: string | null },
  now = Date.now(),
): Promise<{ invite: Invite; token: string }> {
  if (!USERNAME_PATTERN.test(req.username))
    throw new AppError(
      'validation_failed',
      `Invalid username "${req.username.slice(0, 64)}": use 1-64 letters, digits, '_', '.', '@' or '-', starting with a letter or digit`,
    );
  if (!(USER_ROLES as readonly string[]).includes(req.role))
    throw new AppError('validation_failed', `Invalid role "${req.role.slice(0, 32)}": a user is ${USER_ROLES.join(' or ')}`);
  const [taken] = await sql`select 1 from tenant_users where lower(username) = lower(${req.username})`;
  if (taken) throw new AppError('conflict', `User "${req.username}" already exists`);
  const token = `inv1_${randomBytes(32).toString('base64url')}`;
  const id = `inv_${randomBytes(12).toString('hex')}`;
  const invite = (await sql.begin(async (tx) => {
    const [r] = await tx`
      insert into tenant_invites (id, client_id, username, role, token_digest, created_by, expires_at)
      values (${id}, ${clientId}, ${req.username}, ${req.role}, ${digest(token)}, ${by.actor}, ${new Date(now + INVITE_TTL_MS)})
      returning *`;
    await recordAudit(tx as unknown as Tx, {
      actor: by.actor,
      action: 'tenant_invite.create',
      target: `tenant_invite:${id}`,
      details: { username: req.username, role: req.role, client_id: clientId },
      ip: by.ip,
    });
    return toInvite(r!);
  })) as Invite;
  return { invite, token };
}

/** The tenant's invites, newest first. */
export async function listInvites(sql: Sql, clientId: string): Promise<Invite[]> {
  return (await sql`select * from tenant_invites where client_id = ${clientId} order by created_at desc, id`).map(toInvite);
}

/**
 * The invited person sets their password: the user is created and the invite
 * used up, at most once, within 24 h. A malformed, unknown, used or expired
 * token is the same 404 and costs no bcrypt.
 */
export async function acceptInvite(sql: Sql, token: string, password: string, by: { ip: string | null; bcryptCost: number }) {
  const gone = () => new AppError('not_found', 'This invitation is unknown, already used or expired; ask for a new one');
  if (!INVITE_TOKEN.test(token)) throw gone();
  const problem = passwordProblem(password);
  if (problem) throw new AppError('validation_failed', problem);
  const [pending] = await sql`select id from tenant_invites where token_digest = ${digest(token)} and accepted_at is null and expires_at > now()`;
  if (!pending) throw gone();
  const hash = await hashPassword(password, by.bcryptCost);
  try {
    const user = await sql.begin(async (tx) => {
      const [u] = await tx`select * from accept_tenant_invite(${digest(token)}, ${newUserId()}, ${hash})`;
      if (!u) return undefined;
      await recordAudit(tx as unknown as Tx, {
        actor: `user:${u.username as string}`,
        action: 'tenant_invite.accept',
        target: `tenant_user:${u.id as string}`,
        details: { invite_id: pending.id, client_id: u.client_id },
        ip: by.ip,
      });
      return u;
    });
    if (!user) throw gone();
    return { id: user.id as string, client_id: user.client_id as string, username: user.username as string, role: user.role as UserRole };
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'The username of this invitation has been taken since; ask for a new one');
    throw err;
  }
}

function toInvite(r: Record<string, unknown>): Invite {
  return {
    id: r.id as string,
    clientId: r.client_id as string,
    username: r.username as string,
    role: r.role as UserRole,
    createdBy: r.created_by as string,
    createdAt: r.created_at as Date,
    expiresAt: r.expires_at as Date,
    acceptedAt: (r.accepted_at as Date | null) ?? null,
  };
}
