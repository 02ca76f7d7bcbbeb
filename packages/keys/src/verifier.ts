import type { Sql } from '@central-logger/db';
import { AppError, limitReached, waitSeconds } from '@central-logger/errors';
import { AuthFailureLog, type AuthFailure, type FailureReason } from './failures.js';
import { claimedPrefix, KEY_PREFIX, legacyPrefix, parseKey } from './format.js';
import { HASH_BCRYPT, HASH_SHA256, keyDigest, verifyKeyHash } from './hash.js';
import { FairHashQueue } from './hash-queue.js';
import { InFlightBounds } from './inflight.js';
import { VerifiedKeys, type Invalidation } from './key-cache.js';
import type { FailureLimiter, Refusal } from './limiter.js';
import type { Role } from './roles.js';
import { findKeyByLookupId, findKeyStates, keyStatus, migrateLegacyLookupId, upgradeLegacyHash, type KeyForVerification } from './store.js';
import { DEV_KEY_LOOKUP_SECRET } from './lookup-secret.js';
import { UsageTracker } from './usage.js';

export type { Invalidation } from './key-cache.js';

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
  /** How long a verified key's state (revoked, expiry, client active, retention) is trusted without hearing of a change; its secret stays verified. Default 60 s. */
  ttlMs?: number;
  /** Most verified keys remembered per process (LRU). Default 100,000. */
  maxEntries?: number;
  /**
   * While Postgres cannot answer, how long after the database last confirmed
   * a verified key's state that state still answers (unless an invalidation
   * named the key since); past it, and for keys not verified here, 503
   * unavailable. 0: never. Default 15 min.
   */
  staleMaxMs?: number;
  /** Longest wait for Postgres to answer a read of key data before it counts as away. Default 5 s. */
  readTimeoutMs?: number;
  /** Verifications (lookup + hash) of one key prefix in flight at once; beyond, 429 at once. Default 2. */
  inflightPerPrefix?: number;
  /** Verifications from one address in flight at once; beyond, 429 at once. Default 4. */
  inflightPerAddress?: number;
  /** bcrypt compares at once in this process (of libuv's 4 threads), one per prefix, served round-robin. Default 2. */
  hashConcurrency?: number;
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

/** Why a key was not found: the public prefix it claimed, if any. */
interface Miss {
  reason: Extract<FailureReason, 'malformed_key' | 'unknown_key' | 'wrong_secret' | 'rate_limited'>;
  prefix: string | null;
  /** The answer, when not "Invalid API key" (a 429). */
  error?: AppError;
  /** Already counted by the failure limiter (before the hash, or refused by it): not counted again. */
  counted?: boolean;
}
type Lookup = { key: KeyForVerification } | Miss;

const invalid = () => new AppError('invalid_api_key', 'Invalid API key');

/**
 * Verifies keys. A key this process has verified costs one SHA-256 and a map
 * lookup (no bcrypt, no database, no Redis); once its state is older than the
 * TTL, one batched primary-key query, still no bcrypt (see VerifiedKeys).
 * Malformed keys and unknown prefixes cost no bcrypt either. Only once the
 * secret verified does a caller learn more than "invalid" (revoked, expired,
 * client inactive).
 *
 * A secret check that needs bcrypt is bounded before it runs (so a flood of wrong keys cannot take every core):
 *  1. an address or prefix this process knows is over its failure limit: 429;
 *  2. a few checks in flight per prefix and per address (InFlightBounds),
 *     taken synchronously: beyond, 429 at once, no lookup, no hash;
 *  3. the failure is counted in Redis, per address and per prefix, before the
 *     hash (FailureLimiter.take), and given back when the secret verifies;
 *  4. the hash waits its turn in a FairHashQueue: one prefix never holds more
 *     than one of its slots, so another tenant's first verification is next.
 * Keys this process already verified skip all four: a locked-out address (or
 * prefix) keeps the keys verified here working, and gets 429 for the others.
 *
 * While Postgres is away, keys verified here keep their last known state for
 * `staleMaxMs`; other keys get 503 unavailable with Retry-After (VerifiedKeys).
 */
export class KeyVerifier {
  private readonly keys: VerifiedKeys;
  private readonly pending = new Map<string, Promise<Lookup>>();
  private readonly bounds: InFlightBounds;
  private readonly hashing: FairHashQueue;
  private readonly bcryptCost: number;
  private readonly lookupSecret: string;
  private readonly limiter: FailureLimiter | undefined;
  private readonly onError: (err: Error) => void;
  private readonly onFailure: (failure: AuthFailure) => void;
  private readonly now: () => number;
  readonly failures: AuthFailureLog;
  readonly usage: UsageTracker;

  constructor(
    private readonly sql: Sql,
    options: KeyVerifierOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.keys = new VerifiedKeys(
      sql,
      {
        ttlMs: options.ttlMs ?? 60_000,
        maxEntries: options.maxEntries ?? 100_000,
        staleMaxMs: options.staleMaxMs ?? 15 * 60_000,
        readTimeoutMs: options.readTimeoutMs ?? 5_000,
      },
      this.now,
    );
    this.bounds = new InFlightBounds(options.inflightPerPrefix ?? 2, options.inflightPerAddress ?? 4);
    this.hashing = new FairHashQueue(options.hashConcurrency ?? 2, 1);
    this.bcryptCost = options.bcryptCost ?? 10;
    this.lookupSecret = options.lookupSecret ?? DEV_KEY_LOOKUP_SECRET;
    this.limiter = options.limiter;
    this.onError = options.onError ?? (() => {});
    this.onFailure = options.onFailure ?? (() => {});
    this.failures = options.failures ?? new AuthFailureLog(sql, { onError: this.onError });
    this.usage = options.usage ?? new UsageTracker(sql, { onError: this.onError });
  }

  /**
   * Authenticates one request from `address`: resolves the key to its
   * principal and counts the use, or records the failure and throws the
   * AppError to answer with (401; or 429, without hashing, once the address
   * or the key's prefix failed too often, or too many of their verifications
   * are in flight: never for a key this process already verified).
   */
  async authenticate(rawKey: string | undefined, address: string): Promise<Principal> {
    if (rawKey === undefined) {
      this.refuseIfBlocked(address, undefined);
      return this.reject(address, null, 'api_key_required', new AppError('api_key_required', 'API key required'));
    }
    const digest = keyDigest(rawKey);
    const known = this.keys.lookup(digest);
    let key = known instanceof Promise ? await known : known;
    if (key === 'gone' || key === 'rehash' || key === undefined) {
      this.refuseIfBlocked(address, rawKey);
      const found = await this.lookup(rawKey, digest, address);
      if (!('key' in found)) return this.reject(address, found.prefix, found.reason, found.error ?? invalid(), found.counted);
      key = found.key;
    }
    const refused = this.refusal(key);
    if (refused) return this.reject(address, key.prefix, refused.code as FailureReason, refused);
    this.usage.recordUse(key.id, address);
    return principalOf(key);
  }

  /**
   * The principal of a key whose secret was verified at a console sign-in
   * (the session keeps its id, never the key): its state through the same
   * cache, TTL and invalidations as `authenticate`, so revoking the key or
   * deactivating its client ends the session as fast as it stops the key.
   * No secret check, no failure counting: the session is the proof.
   * `recordUse` false: a recheck of a long request (a live tail), not a use.
   */
  async resumeKey(keyId: string, address: string, recordUse = true): Promise<Principal> {
    const slot = `session:${keyId}`;
    const known = this.keys.lookup(slot);
    let key = known instanceof Promise ? await known : known;
    if (key === 'rehash' || key === undefined) {
      // first use in this process, or the stored hash changed (a legacy hash upgraded): the row's state is what counts
      const generation = this.keys.generation;
      // Postgres away: 503 (as for a key not verified here), never a 500
      key = (await this.keys.read(() => findKeyStates(this.sql, [keyId]))).get(keyId) ?? 'gone';
      if (key !== 'gone') this.keys.remember(slot, key, generation);
    }
    if (key === 'gone') throw new AppError('api_key_revoked', 'The API key of this session no longer exists');
    const refused = this.refusal(key);
    if (refused) throw refused;
    if (recordUse) this.usage.recordUse(key.id, address);
    return principalOf(key);
  }

  /**
   * Whether a key that authenticated a request still holds, for requests that
   * outlive their authentication (a live tail): its current principal, or
   * the error a new request with it would get. Unlike `authenticate`, records
   * no use and no failure (a stream ending on revocation is not a revoked key
   * "still in use"). A key this process no longer remembers is authenticated
   * again.
   */
  async recheck(rawKey: string, address: string): Promise<Principal | AppError> {
    const known = this.keys.lookup(keyDigest(rawKey));
    const key = known instanceof Promise ? await known : known;
    if (key === 'gone') return invalid();
    if (key === 'rehash' || key === undefined)
      return this.authenticate(rawKey, address).catch((err: unknown) => (err instanceof AppError ? err : Promise.reject(err)));
    return this.refusal(key) ?? principalOf(key);
  }

  invalidate(what: Invalidation): void {
    this.keys.invalidate(what);
  }

  /** Verified keys remembered. */
  get size(): number {
    return this.keys.size;
  }

  /** Requests answered from a key's last known state while Postgres could not be read. */
  get staleAnswers(): number {
    return this.keys.staleAnswers;
  }

  /** Batched state queries run since start (each refreshes every key whose TTL ran out in one event-loop turn). */
  get stateQueries(): number {
    return this.keys.stateQueries;
  }

  /** Writes buffered usage and failures, and stops their timers. */
  async close(): Promise<void> {
    await Promise.all([this.failures.close(), this.usage.close()]);
  }

  // local knowledge only (no Redis): an address, or the prefix the key claims, over its failure limit
  private refuseIfBlocked(address: string, rawKey: string | undefined): void {
    if (!this.limiter) return;
    const prefix = (rawKey && claimedPrefix(rawKey)) ?? null;
    const byAddress = this.limiter.blockedFor(address);
    const byPrefix = prefix ? this.limiter.prefixBlockedFor(prefix) : 0;
    if (byAddress === 0 && byPrefix === 0) return;
    this.fail({ at: new Date(this.now()), address, keyPrefix: prefix, reason: 'rate_limited' });
    throw byAddress > 0
      ? rateLimited({ waitMs: byAddress, by: 'address', limit: this.limiter.limit })
      : rateLimited({ waitMs: byPrefix, by: 'prefix', limit: this.limiter.prefixLimit });
  }

  private async reject(address: string, prefix: string | null, reason: FailureReason, error: AppError, counted = false): Promise<never> {
    this.fail({ at: new Date(this.now()), address, keyPrefix: prefix, reason });
    const wait = this.limiter && !counted ? await this.limiter.fail(address) : 0;
    throw wait > 0 ? rateLimited({ waitMs: wait, by: 'address', limit: this.limiter!.limit }) : error;
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

  // concurrent first uses of one key share one verification: an honest client never competes with itself for a slot
  private lookup(rawKey: string, digest: string, address: string): Promise<Lookup> {
    let p = this.pending.get(digest);
    if (!p) {
      p = this.load(rawKey, digest, address).finally(() => this.pending.delete(digest));
      this.pending.set(digest, p);
    }
    return p;
  }

  private async load(rawKey: string, digest: string, address: string): Promise<Lookup> {
    // a `clk_` key with a bad checksum is garbage: no legacy lookup, no database
    const prefix = rawKey.startsWith(KEY_PREFIX) ? parseKey(rawKey)?.prefix : legacyPrefix(rawKey, this.lookupSecret);
    if (!prefix) return { reason: 'malformed_key', prefix: claimedPrefix(rawKey) ?? null };
    // taken before the first await, so a burst that arrives at once is cut off at once
    const release = this.bounds.tryAcquire(prefix, address);
    if (typeof release === 'string') return { reason: 'rate_limited', prefix: publicPrefix(rawKey, prefix), error: this.busy(release), counted: true };
    try {
      const generation = this.keys.generation;
      // Postgres away: 503, not counted as a failure of the address
      const key = await this.keys.read(() => findKeyByLookupId(this.sql, rawKey, prefix));
      if (!key) return { reason: 'unknown_key', prefix: publicPrefix(rawKey, prefix) };
      return await this.check(rawKey, digest, key, prefix, address, generation);
    } finally {
      release();
    }
  }

  // the failure is counted before the hash runs, and given back once the secret verified
  private async check(rawKey: string, digest: string, key: KeyForVerification, lookupId: string, address: string, generation: number): Promise<Lookup> {
    const prefix = key.prefix;
    const refused = await this.limiter?.take(address, prefix);
    if (refused) return { reason: 'rate_limited', prefix, error: rateLimited(refused), counted: true };
    // only bcrypt needs a turn; a legacy SHA-256 compare costs a microsecond
    const compare = () => verifyKeyHash(rawKey, key.keyHash, key.hashVersion);
    if (!(await (key.hashVersion === HASH_BCRYPT ? this.hashing.run(prefix, compare) : compare()))) {
      return { reason: 'wrong_secret', prefix, counted: true };
    }
    this.limiter?.giveBack(address, prefix);
    if (key.prefix !== lookupId) key.prefix = (await migrateLegacyLookupId(this.sql, key, lookupId)).prefix; // a legacy row under its former lgc_ id
    if (key.hashVersion === HASH_SHA256) this.upgrade(key, rawKey);
    this.keys.remember(digest, key, generation);
    return { key };
  }

  // in flight means a second or less at bcrypt's pace: come back in 1 s
  private busy(full: 'prefix' | 'address'): AppError {
    const [what, limit] = full === 'prefix' ? ['for this key', this.bounds.perPrefix] : ['from this address', this.bounds.perAddress];
    return limitReached(`Too many authentication attempts in progress ${what}; retry in 1 s`, limit, 1_000);
  }

  // first successful use of a legacy SHA-256 key: re-hash it with bcrypt, off the request's path
  private upgrade(key: KeyForVerification, rawKey: string): void {
    upgradeLegacyHash(this.sql, key.id, rawKey, this.bcryptCost).catch((err: unknown) => this.onError(err as Error));
  }
}

function principalOf(key: KeyForVerification): Principal {
  return { keyId: key.id, prefix: key.prefix, role: key.role, clientId: key.clientId, retentionDays: key.retentionDays ?? null };
}

// a legacy key's lookup prefix is derived from the whole key: it is not recorded with failures
function publicPrefix(rawKey: string, prefix: string): string | null {
  return rawKey.startsWith(KEY_PREFIX) ? prefix : null;
}

function rateLimited(r: Refusal): AppError {
  const what = r.by === 'address' ? 'from this address' : 'for this key';
  return limitReached(`Too many failed authentication attempts ${what}; retry in ${waitSeconds(r.waitMs)} s`, r.limit, r.waitMs);
}
