import { createHash, randomBytes } from 'node:crypto';
import type { RedisClient as Redis } from '@central-logger/redis';
import { AppError } from '@central-logger/errors';

/** The console's session cookie: an opaque random id; everything else stays in Redis. */
export const CONSOLE_SESSION_COOKIE = 'cl_session';
const TOKEN = /^cs1_[A-Za-z0-9_-]{43}$/;

/** What a console session stands for: a tenant user, or an API key pasted at sign-in (never the key itself). */
export type ConsoleSession =
  | { kind: 'user'; userId: string; clientId: string; role: 'owner' | 'reader'; createdAt: string; expiresAt: string }
  | { kind: 'key'; keyId: string; clientId: string; role: 'owner' | 'reader'; createdAt: string; expiresAt: string };

export type NewConsoleSession =
  | { kind: 'user'; userId: string; clientId: string; role: 'owner' | 'reader' }
  | { kind: 'key'; keyId: string; clientId: string; role: 'owner' | 'reader' };

/**
 * Console sessions in Redis, under `<prefix>:console-session:<SHA-256 of the
 * cookie's id>`: a Redis dump or a key listing never yields a usable cookie.
 * A session expires with its Redis key (the TTL is its lifetime); sign-out
 * deletes it. Whether its user or key still may act is not stored here: the
 * caller re-resolves that on every request (see resumeSession), so a
 * deactivation or a revocation ends the session as fast as it ends a token.
 */
export class ConsoleSessions {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  /** Starts a session; returns the cookie's id (shown to nobody else, stored only as a digest). */
  async create(what: NewConsoleSession, now = Date.now()): Promise<{ id: string; session: ConsoleSession }> {
    const id = `cs1_${randomBytes(32).toString('base64url')}`;
    const session = { ...what, createdAt: new Date(now).toISOString(), expiresAt: new Date(now + this.ttlMs).toISOString() } as ConsoleSession;
    await this.redis.set(this.keyOf(id), JSON.stringify(session), 'PX', this.ttlMs).catch(unavailable);
    return { id, session };
  }

  /** The live session of a cookie's id; undefined for a malformed, unknown, expired or ended one. */
  async find(id: string): Promise<ConsoleSession | undefined> {
    if (!TOKEN.test(id)) return undefined;
    const raw = await this.redis.get(this.keyOf(id)).catch(unavailable);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as ConsoleSession;
    return Date.parse(s.expiresAt) > Date.now() ? s : undefined;
  }

  /** Ends a session; false when there was none. */
  async end(id: string): Promise<boolean> {
    if (!TOKEN.test(id)) return false;
    return (await this.redis.del(this.keyOf(id)).catch(unavailable)) > 0;
  }

  /** A name for the session that can be shown and logged: not the cookie's id, from which it cannot be worked back. */
  reference(id: string): string {
    return `ses_${digest(id).slice(0, 16)}`;
  }

  private keyOf(id: string): string {
    return `${this.prefix}:console-session:${digest(id)}`;
  }
}

const digest = (id: string) => createHash('sha256').update(id).digest('hex');

/** Without Redis no session can be read or written: 503, never a sign-in that half happened. */
function unavailable(cause: unknown): never {
  throw new AppError('unavailable', 'Sessions are unavailable right now; try again shortly', { headers: { 'Retry-After': '5' }, cause });
}
