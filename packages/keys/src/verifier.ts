import type { Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { parseKey } from './format.js';
import { keyDigest, verifyKeyHash } from './hash.js';
import type { Role } from './roles.js';
import { findKeyForVerification, keyStatus, type KeyForVerification } from './store.js';

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
  now?: () => number;
}

interface Entry {
  key: KeyForVerification;
  until: number;
}

export type Invalidation = { keyId: string } | { clientId: string } | { all: true };

/**
 * Verifies keys. A key seen within the TTL costs one SHA-256 and a map
 * lookup: no bcrypt, no database. Malformed keys and unknown prefixes cost no
 * bcrypt either. Entries are dropped when an invalidation arrives (revocation,
 * deactivation) and in any case after the TTL.
 */
export class KeyVerifier {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<KeyForVerification | undefined>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  // bumped by every invalidation, so a lookup that raced one is not cached
  private generation = 0;

  constructor(private readonly sql: Sql, options: KeyVerifierOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
  }

  /** Resolves the key to its principal, or throws the AppError to answer with. */
  async verify(rawKey: string): Promise<Principal> {
    const digest = keyDigest(rawKey);
    const cached = this.cache.get(digest);
    const key = cached && cached.until > this.now() ? cached.key : await this.lookup(rawKey, digest);
    if (!key) throw new AppError('invalid_api_key', 'Invalid API key');
    return this.admit(key);
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

  private admit(key: KeyForVerification): Principal {
    const status = keyStatus(key, this.now());
    if (status === 'revoked') throw new AppError('api_key_revoked', 'This API key has been revoked');
    if (status === 'expired') throw new AppError('api_key_expired', 'This API key has expired');
    if (!key.clientActive) throw new AppError('client_inactive', 'The client of this API key is inactive');
    return { keyId: key.id, prefix: key.prefix, role: key.role, clientId: key.clientId, retentionDays: key.retentionDays ?? null };
  }

  private lookup(rawKey: string, digest: string): Promise<KeyForVerification | undefined> {
    let p = this.pending.get(digest);
    if (!p) {
      p = this.load(rawKey, digest).finally(() => this.pending.delete(digest));
      this.pending.set(digest, p);
    }
    return p;
  }

  private async load(rawKey: string, digest: string): Promise<KeyForVerification | undefined> {
    const parsed = parseKey(rawKey);
    if (!parsed) return undefined;
    const generation = this.generation;
    const key = await findKeyForVerification(this.sql, parsed.prefix);
    if (!key || !(await verifyKeyHash(rawKey, key.keyHash, key.hashVersion))) return undefined;
    if (generation === this.generation) this.remember(digest, key);
    return key;
  }

  private remember(digest: string, key: KeyForVerification): void {
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(digest, { key, until: this.now() + this.ttlMs });
  }
}
