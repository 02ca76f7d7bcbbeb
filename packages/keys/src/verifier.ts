import type { Sql } from '@central-logger/db';
import { AppError, limitReached, waitSeconds } from '@central-logger/errors';
import { AuthFailureLog, type AuthFailure, type FailureReason } from './failures.js';
import { claimedPrefix, KEY_PREFIX, legacyPrefix, parseKey } from './format.js';
import { HASH_SHA256, keyDigest, verifyKeyHash } from './hash.js';
import type { FailureLimiter } from './limiter.js';
import type { Role } from './roles.js';
import { findKeyByLookupId, keyStatus, migrateLegacyLookupId, upgradeLegacyHash, type KeyForVerification } from './store.js';
import { DEV_KEY_LOOKUP_SECRET } from './lookup-secret.js';
import { UsageTracker } from './usage.js';

/** Who a verified key speaks for. */
export interface Principal {
  keyId: string;
  prefix: string;
  role: Role;
  /** The tenant; null only for admin keys. */
  clientId: string | null;
  /** The tenant's retention in days: older events are refused at ingest. */
  retentionDays?: number | null;
}

export interface KeyVerifierOptions {
  /** How long a verified key is trusted without hearing of a change. Default 60 s. */
  ttlMs?: number;
  /** Most cached keys per process. Default 100,000. */
  maxEntries?: number;
  /** bcrypt cost used when a legacy SHA-256 hash is upgraded. Default 10. */
  bcryptCost?: number;
  /** HMAC secret of legacy keys' lookup ids (KEY_LOOKUP_SECRET; see keyLookupSecret). Default: the development value. */
  lookupSecret?: string;
  /** Where failed authentications are recorded. Default: a log flushing every second. */
  failures?: AuthFailureLog;
  /** Where successful uses are added up. Default: a tracker flushing every 10 s. */
  usage?: UsageTracker;
  /** Per-address failure limit; none by default. */
  limiter?: FailureLimiter;
  /** Background problems (a failed hash upgrade). */
  onError?: (err: Error) => void;
  /** Told of every failed authentication (e.g. to log it); the failure holds no key, only its prefix. */
  onFailure?: (failure: AuthFailure) => void;
  now?: () => number;
}

interface Entry {
  key: KeyForVerification;
  until: number;
}

/** Why a key was not found: the public prefix it claimed, if any. */
interface Miss {
  reason: Extract<FailureReason, 'malformed_key' | 'unknown_key' | 'wrong_secret'>;
  prefix: string | null;
}
type Lookup = { key: KeyForVerification } | Miss;

export type Invalidation = { keyId: string } | { clientId: string } | { all: true };

const invalid = () => new AppError('invalid_api_key', 'Invalid API key');

/**
 * Verifies keys. A key seen within the TTL costs one SHA-256 and a map
 * lookup: no bcrypt, no database. Malformed keys and unknown prefixes cost no
 * bcrypt either. Entries are dropped when an invalidation arrives (revocation,
 * deactivation, rotation) and in any case after the TTL. Only once the secret
 * verified does a caller learn more than "invalid" (revoked, expired, client
 * inactive).
 */
export class KeyVerifier {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Lookup>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly bcryptCost: number;
  private readonly lookupSecret: string;
  private readonly limiter: FailureLimiter | undefined;
  private readonly onError: (err: Error) => void;
  private readonly onFailure: (failure: AuthFailure) => void;
  private readonly now: () => number;
  readonly failures: AuthFailureLog;
  readonly usage: UsageTracker;
  // bumped by every invalidation, so a lookup that raced one is not cached
  private generation = 0;

  constructor(private readonly sql: Sql, options: KeyVerifierOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.bcryptCost = options.bcryptCost ?? 10;
    this.lookupSecret = options.lookupSecret ?? DEV_KEY_LOOKUP_SECRET;
    this.limiter = options.limiter;
    this.onError = options.onError ?? (() => {});
    this.onFailure = options.onFailure ?? (() => {});
    this.now = options.now ?? Date.now;
    this.failures = options.failures ?? new AuthFailureLog(sql, { onError: this.onError });
    this.usage = options.usage ?? new UsageTracker(sql, { onError: this.onError });
  }

  /**
   * Authenticates one request from `address`: resolves the key to its
   * principal and counts the use, or records the failure and throws the
   * AppError to answer with (401, or 429 once the address failed too often).
   */
  async authenticate(rawKey: string | undefined, address: string): Promise<Principal> {
    const cached = rawKey === undefined ? undefined : this.cached(keyDigest(rawKey));
    if (!cached) this.refuseIfBlocked(address, rawKey);
    if (rawKey === undefined) return this.reject(address, null, 'api_key_required', new AppError('api_key_required', 'API key required'));
    const found = cached ? { key: cached } : await this.lookup(rawKey, keyDigest(rawKey));
    if (!('key' in found)) return this.reject(address, found.prefix, found.reason, invalid());
    const refused = this.refusal(found.key);
    if (refused) return this.reject(address, found.key.prefix, refused.code as FailureReason, refused);
    this.usage.recordUse(found.key.id, address);
    return principalOf(found.key);
  }

  invalidate(what: Invalidation): void {
    this.generation++;
    if ('all' in what) {
      this.cache.clear();
      return;
    }
    for (const [digest, entry] of this.cache) {
      const k = entry.key;
      if (('keyId' in what && k.id === what.keyId) || ('clientId' in what && k.clientId === what.clientId)) {
        this.cache.delete(digest);
      }
    }
  }

  get size(): number {
    return this.cache.size;
  }

  /** Writes buffered usage and failures, and stops their timers. */
  async close(): Promise<void> {
    await Promise.all([this.failures.close(), this.usage.close()]);
  }

  private cached(digest: string): KeyForVerification | undefined {
    const entry = this.cache.get(digest);
    return entry && entry.until > this.now() ? entry.key : undefined;
  }

  private refuseIfBlocked(address: string, rawKey: string | undefined): void {
    const wait = this.limiter?.blockedFor(address) ?? 0;
    if (wait === 0) return;
    this.fail({ at: new Date(this.now()), address, keyPrefix: (rawKey && claimedPrefix(rawKey)) ?? null, reason: 'rate_limited' });
    throw rateLimited(wait, this.limiter!.limit);
  }

  private async reject(address: string, prefix: string | null, reason: FailureReason, error: AppError): Promise<never> {
    this.fail({ at: new Date(this.now()), address, keyPrefix: prefix, reason });
    const wait = this.limiter ? await this.limiter.fail(address) : 0;
    throw wait > 0 ? rateLimited(wait, this.limiter!.limit) : error;
  }

  private fail(failure: AuthFailure): void {
    this.failures.record(failure);
    this.onFailure(failure);
  }

  private refusal(key: KeyForVerification): AppError | undefined {
    const status = keyStatus(key, this.now());
    if (status === 'revoked') return new AppError('api_key_revoked', 'This API key has been revoked');
    if (status === 'expired') return new AppError('api_key_expired', 'This API key has expired');
    if (!key.clientActive) return new AppError('client_inactive', 'The client of this API key is inactive');
    return undefined;
  }

  private lookup(rawKey: string, digest: string): Promise<Lookup> {
    let p = this.pending.get(digest);
    if (!p) {
      p = this.load(rawKey, digest).finally(() => this.pending.delete(digest));
      this.pending.set(digest, p);
    }
    return p;
  }

  private async load(rawKey: string, digest: string): Promise<Lookup> {
    // a `clk_` key with a bad checksum is garbage: no legacy lookup, no database
    const prefix = rawKey.startsWith(KEY_PREFIX) ? parseKey(rawKey)?.prefix : legacyPrefix(rawKey, this.lookupSecret);
    if (!prefix) return { reason: 'malformed_key', prefix: claimedPrefix(rawKey) ?? null };
    const generation = this.generation;
    const key = await findKeyByLookupId(this.sql, rawKey, prefix);
    if (!key) return { reason: 'unknown_key', prefix: rawKey.startsWith(KEY_PREFIX) ? prefix : null };
    if (!(await verifyKeyHash(rawKey, key.keyHash, key.hashVersion))) return { reason: 'wrong_secret', prefix };
    if (key.prefix !== prefix) key.prefix = (await migrateLegacyLookupId(this.sql, key, prefix)).prefix; // a legacy row under its former lgc_ id
    if (key.hashVersion === HASH_SHA256) this.upgrade(key, rawKey);
    if (generation === this.generation) this.remember(digest, key);
    return { key };
  }

  // first successful use of a legacy SHA-256 key: re-hash it with bcrypt, off the request's path
  private upgrade(key: KeyForVerification, rawKey: string): void {
    upgradeLegacyHash(this.sql, key.id, rawKey, this.bcryptCost).catch((err: unknown) => this.onError(err as Error));
  }

  private remember(digest: string, key: KeyForVerification): void {
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(digest, { key, until: this.now() + this.ttlMs });
  }
}

function principalOf(key: KeyForVerification): Principal {
  return { keyId: key.id, prefix: key.prefix, role: key.role, clientId: key.clientId, retentionDays: key.retentionDays ?? null };
}

function rateLimited(waitMs: number, limit: number): AppError {
  return limitReached(`Too many failed authentication attempts from this address; retry in ${waitSeconds(waitMs)} s`, limit, waitMs);
}
