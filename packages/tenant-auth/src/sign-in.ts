import { recordAudit, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import type { LoginLimiter } from './login-limiter.js';
import { hashPassword, verifyPassword } from './passwords.js';
import type { TenantTokens } from './tokens.js';
import { findUserForSignIn, recordSignIn, userJson, type UserForSignIn } from './users.js';

export interface SignInDeps {
  sql: Sql;
  limiter: LoginLimiter;
  tokens: TenantTokens;
  /** A hash an unknown username is checked against, so it costs the same bcrypt as a known one. */
  dummyHash: Promise<string>;
}

/** A bcrypt hash of nothing anyone knows, at the configured cost. */
export function dummyPasswordHash(bcryptCost: number): Promise<string> {
  return hashPassword(`no such user ${Math.random()}`, bcryptCost);
}

/**
 * Signs a tenant user in: takes a token from the address and the username
 * (429 when either is used up) before bcrypt, then checks the password. An
 * unknown username, a wrong password, a user without a password yet, an
 * inactive user or client all answer the same 401 after the same bcrypt work.
 * Success and failure are audited.
 */
export async function signIn(deps: SignInDeps, username: string, password: string, ip: string) {
  const user = await checkSignIn(deps, username, password, ip);
  const { accessToken, expiresIn } = await deps.tokens.issue(user);
  await recordSuccess(deps.sql, user, ip, 'token');
  return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, user: userJson({ ...user, lastLoginAt: new Date() }) };
}

/**
 * The user whose password this is, under the sign-in limits (see `signIn`),
 * the failure audited; the caller records the success (`recordSuccess`) once
 * it has given the user what they signed in for (a token, a console session).
 */
export async function checkSignIn(deps: Omit<SignInDeps, 'tokens'>, username: string, password: string, ip: string): Promise<UserForSignIn> {
  const ticket = await deps.limiter.take(ip, username);
  const user = await checkPassword(deps, username, password).catch(async (err: unknown) => {
    await ticket.release();
    throw err;
  });
  if (!user) {
    await recordAudit(deps.sql, { actor: 'anonymous', action: 'tenant_login.failure', target: `tenant_user:${username.slice(0, 64)}`, ip });
    throw new AppError('invalid_credentials', 'Invalid username or password');
  }
  await ticket.succeed();
  return user;
}

/** A sign-in succeeded: last_login_at and the audit row, together. `via` says what it gave: a token or a console session. */
export async function recordSuccess(sql: Sql, user: UserForSignIn, ip: string, via: 'token' | 'session'): Promise<void> {
  await sql.begin(async (tx) => {
    await recordSignIn(tx, user.id);
    await recordAudit(tx, {
      actor: `user:${user.username}`,
      action: 'tenant_login.success',
      target: `tenant_user:${user.id}`,
      details: { client_id: user.clientId, ...(via === 'session' ? { via } : {}) },
      ip,
    });
  });
}

async function checkPassword(deps: Pick<SignInDeps, 'sql' | 'dummyHash'>, username: string, password: string): Promise<UserForSignIn | undefined> {
  const user = await findUserForSignIn(deps.sql, username);
  const ok = await verifyPassword(password, user?.passwordHash ?? (await deps.dummyHash));
  return user && ok && user.passwordHash && user.isActive && user.clientActive ? user : undefined;
}
