import { randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import { answerWithin, isUnavailable, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import type { Principal } from '@central-logger/keys';
import { userState, type UserRole, type UserState } from './users.js';

/** Access tokens live 15 minutes; a user signs in again after. */
export const ACCESS_TOKEN_TTL_S = 900;
const ISSUER = 'central-logger';
const AUDIENCE = 'central-logger:tenant';
/** Longer credentials are refused before any work. */
const MAX_TOKEN_LENGTH = 4096;

/** A tenant principal that came from a user's access token, not a key. */
export interface UserPrincipal extends Principal {
  /** An access token (Bearer), or a console session (cookie). */
  via: 'token' | 'session';
  userId: string;
  username: string;
  tokenId: string;
  /** When the token stops working (ISO 8601). */
  expiresAt: string;
}

export function isUserPrincipal(p: Principal | undefined): p is UserPrincipal {
  const via = (p as UserPrincipal | undefined)?.via;
  return via === 'token' || via === 'session';
}

/** A JWT's shape (three base64url parts, a JSON header): what tells a token from an API key. */
export function looksLikeToken(credential: string): boolean {
  return credential.startsWith('eyJ') && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential);
}

export type UserInvalidation = { userId: string } | { clientId: string } | { all: true };

export interface TenantTokensOptions {
  /** How long a user's active state is trusted without hearing of a change. Default 60 s. */
  ttlMs?: number;
  /** Most cached users per process. Default 100,000. */
  maxEntries?: number;
  /** While Postgres cannot answer, how long after it last confirmed a user's state that state still answers (as KEY_STATE_STALE_MAX_MS). Default 15 min. */
  staleMaxMs?: number;
  /** Longest wait for Postgres to answer a read of a user's state before it counts as away. Default 5 s. */
  readTimeoutMs?: number;
  now?: () => number;
}

const invalidToken = () => new AppError('invalid_credentials', 'Invalid or expired access token; sign in again');

/**
 * Issues and verifies tenant users' access tokens (HS256 JWTs: subject the
 * user id, `cid` the client, `role`, a random `jti`, 15 minutes). A request
 * with a token costs one HMAC and a map lookup: the user's (and client's)
 * active state is cached like a key, for `ttlMs` at most, and dropped when a
 * deactivation is announced on the key invalidation channel; only a user not
 * seen recently costs one database read. While Postgres is away, a cached
 * state answers for up to `staleMaxMs` after it was last read, unless an
 * invalidation dropped it; other users' tokens get 503 unavailable.
 */
export class TenantTokens {
  private readonly key: Uint8Array;
  // confirmedAt: when Postgres last confirmed the state; failing: the last read could not reach it
  private readonly cache = new Map<string, { state: UserState | undefined; until: number; confirmedAt: number; failing: boolean }>();
  private readonly pending = new Map<string, Promise<UserState | undefined>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly staleMaxMs: number;
  private readonly readTimeoutMs: number;
  private readonly now: () => number;
  // bumped by every invalidation, so a read that raced one is not cached
  private generation = 0;

  constructor(
    private readonly sql: Sql,
    secret: string,
    options: TenantTokensOptions = {},
  ) {
    this.key = new TextEncoder().encode(secret);
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.staleMaxMs = options.staleMaxMs ?? 15 * 60_000;
    this.readTimeoutMs = options.readTimeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** A signed access token for the user. */
  async issue(user: { id: string; clientId: string; role: UserRole }): Promise<{ accessToken: string; expiresIn: number }> {
    const iat = Math.floor(this.now() / 1000);
    const accessToken = await new SignJWT({ cid: user.clientId, role: user.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setJti(`tok_${randomBytes(12).toString('hex')}`)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ACCESS_TOKEN_TTL_S)
      .sign(this.key);
    return { accessToken, expiresIn: ACCESS_TOKEN_TTL_S };
  }

  /** The principal of a valid token of an active user of an active client; 401 otherwise. */
  async authenticate(token: string): Promise<UserPrincipal> {
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken();
    const claims = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(this.now()) })
      .then((r) => r.payload)
      .catch((err: unknown) => {
        if (err instanceof errors.JOSEError) throw invalidToken();
        throw err;
      });
    const userId = claims.sub;
    if (typeof userId !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number') throw invalidToken();
    return this.principal('token', userId, claims.cid, claims.jti, claims.exp * 1000, invalidToken);
  }

  /**
   * The principal of a console session's user: the same cached state, and
   * the same refusals, as a token of theirs; `role` is the role the session
   * was started with, and a user whose role has changed since signs in again.
   */
  async resumeSession(session: { userId: string; clientId: string; role: string; id: string; expiresAt: string }): Promise<UserPrincipal> {
    const ended = () => new AppError('invalid_credentials', 'Your session has ended; sign in again');
    const p = await this.principal('session', session.userId, session.clientId, session.id, Date.parse(session.expiresAt), ended);
    if (p.role !== session.role) throw new AppError('invalid_credentials', 'Your role has changed since you signed in; sign in again');
    return p;
  }

  private async principal(
    via: UserPrincipal['via'],
    userId: string,
    clientId: unknown,
    tokenId: string,
    expiresAtMs: number,
    invalid: () => AppError,
  ): Promise<UserPrincipal> {
    const state = await this.stateOf(userId);
    if (!state || state.clientId !== clientId) throw invalid();
    if (!state.active) throw new AppError('invalid_credentials', 'This user has been deactivated');
    if (!state.clientActive) throw new AppError('client_inactive', "This user's client is inactive");
    return {
      via,
      keyId: state.id,
      prefix: `user:${state.username}`,
      // the role the user has now, not the one the token was issued with
      role: state.role,
      clientId: state.clientId,
      retentionDays: state.retentionDays,
      userId: state.id,
      username: state.username,
      tokenId,
      expiresAt: new Date(expiresAtMs).toISOString(),
    };
  }

  invalidate(what: UserInvalidation | Record<string, unknown>): void {
    this.generation++;
    if ('all' in what) return void this.cache.clear();
    for (const [id, entry] of this.cache) {
      if (('userId' in what && id === what.userId) || ('clientId' in what && entry.state?.clientId === what.clientId)) this.cache.delete(id);
    }
  }

  get size(): number {
    return this.cache.size;
  }

  private async stateOf(userId: string): Promise<UserState | undefined> {
    const hit = this.cache.get(userId);
    const now = this.now();
    if (hit && hit.until > now) return hit.state;
    let p = this.pending.get(userId);
    if (!p) {
      p = this.load(userId).finally(() => this.pending.delete(userId));
      this.pending.set(userId, p);
    }
    // while Postgres is away, a usable state answers at once and is read again in the background
    if (hit?.failing && now - hit.confirmedAt <= this.staleMaxMs) {
      p.catch(() => {});
      return hit.state;
    }
    return p;
  }

  private async load(userId: string): Promise<UserState | undefined> {
    const generation = this.generation;
    let state: UserState | undefined;
    try {
      state = await answerWithin(userState(this.sql, userId), this.readTimeoutMs);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      return this.readFailed(userId, err);
    }
    if (generation === this.generation) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      const now = this.now();
      this.cache.set(userId, { state, until: now + this.ttlMs, confirmedAt: now, failing: false });
    }
    return state;
  }

  // an invalidation deletes the cached state, so one still here was named by none since it was read
  private readFailed(userId: string, cause: unknown): UserState | undefined {
    const hit = this.cache.get(userId);
    const now = this.now();
    if (!hit || now - hit.confirmedAt > this.staleMaxMs) {
      throw new AppError('unavailable', 'Access tokens cannot be checked right now; retry later', { headers: { 'Retry-After': '5' }, cause });
    }
    hit.failing = true;
    hit.until = Math.min(now + 1_000, hit.confirmedAt + this.staleMaxMs);
    return hit.state;
  }
}
