import type { Sql } from '@central-logger/db';
import { findKeyStates, type KeyForVerification } from './store.js';

export type Invalidation = { keyId: string } | { clientId: string } | { all: true };

interface Entry {
  /** The key's state as last read; `key.keyHash` is the hash its secret verified against. */
  key: KeyForVerification;
  /** The state is trusted until then, unless an invalidation came first. */
  until: number;
  epoch: number;
  /** The state read in progress, and the generation it started in: concurrent uses of one stale key share it. */
  refreshing?: { generation: number; read: Promise<KeyForVerification | 'gone' | 'rehash' | undefined> };
}

/**
 * The keys this process has verified: a bounded LRU keyed by the SHA-256
 * digest of the full key. A secret, once verified, stays verified for the
 * life of the process (or until evicted); only its *state* (revoked, expiry,
 * client active, retention) is trusted for a TTL, then read again with one
 * primary-key query, batched with every other key whose TTL ran out in the
 * same turn of the event loop. So each active key costs one bcrypt per
 * process, not one per TTL. A state whose hash changed drops the entry: the
 * secret is verified again. Invalidations (pub/sub) mark states stale; they
 * never cost a hash.
 */
export class VerifiedKeys {
  private readonly entries = new Map<string, Entry>();
  // an `all` invalidation bumps the epoch: every entry is stale at once, in O(1)
  private epoch = 0;
  /** Bumped by every invalidation, so a read that raced one is used once but not trusted for a TTL. */
  generation = 0;
  private queued = new Map<string, Array<(state: KeyForVerification | undefined | Error) => void>>();
  /** State queries run (each for a batch of keys): tests and the bench read it. */
  stateQueries = 0;

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The verified key of `digest` with a state at most a TTL old (read again
   * if older; 'rehash' when the stored hash changed: verify the secret again;
   * 'gone' when the row is), or undefined when this process never verified it.
   */
  lookup(digest: string): KeyForVerification | Promise<KeyForVerification | 'gone' | 'rehash' | undefined> | undefined {
    const entry = this.entries.get(digest);
    if (!entry) return undefined;
    // most recently used goes last; eviction takes the first
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    if (entry.epoch === this.epoch && entry.until > this.now()) return entry.key;
    // a read that started before an invalidation may predate the change: do not join it
    if (entry.refreshing?.generation === this.generation) return entry.refreshing.read;
    const refreshing = { generation: this.generation, read: this.refresh(digest, entry) };
    entry.refreshing = refreshing;
    void refreshing.read.finally(() => entry.refreshing === refreshing && (entry.refreshing = undefined)).catch(() => {});
    return refreshing.read;
  }

  /**
   * Remembers a secret that verified against `key.keyHash`. If an invalidation
   * came while it was read (`generation` is no longer current), the state may
   * predate it: the secret is kept but the state is stale, re-read at the next
   * use (one query, no hash).
   */
  remember(digest: string, key: KeyForVerification, generation: number): void {
    this.entries.delete(digest);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(digest, { key, until: generation === this.generation ? this.now() + this.ttlMs : 0, epoch: this.epoch });
  }

  invalidate(what: Invalidation): void {
    this.generation++;
    if ('all' in what) {
      this.epoch++;
      return;
    }
    for (const entry of this.entries.values()) {
      const k = entry.key;
      if (('keyId' in what && k.id === what.keyId) || ('clientId' in what && k.clientId === what.clientId)) entry.until = 0;
    }
  }

  private async refresh(digest: string, entry: Entry): Promise<KeyForVerification | 'gone' | 'rehash' | undefined> {
    const generation = this.generation;
    const state = await this.readState(entry.key.id);
    const current = this.entries.get(digest) === entry;
    const changed = !state ? 'gone' : state.keyHash !== entry.key.keyHash || state.hashVersion !== entry.key.hashVersion ? 'rehash' : undefined;
    if (changed) {
      if (current) this.entries.delete(digest);
      return changed;
    }
    if (!current) return state!;
    entry.key = state!;
    if (generation === this.generation) {
      entry.until = this.now() + this.ttlMs;
      entry.epoch = this.epoch;
    }
    return state;
  }

  // every key whose state is wanted in this turn of the event loop is read by one query
  private readState(id: string): Promise<KeyForVerification | undefined> {
    return new Promise((resolve, reject) => {
      const settle = (s: KeyForVerification | undefined | Error) => (s instanceof Error ? reject(s) : resolve(s));
      const waiting = this.queued.get(id);
      if (waiting) return void waiting.push(settle);
      if (this.queued.size === 0) setImmediate(() => void this.flush());
      this.queued.set(id, [settle]);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queued;
    this.queued = new Map();
    this.stateQueries++;
    let states: Map<string, KeyForVerification> | Error;
    try {
      states = await findKeyStates(this.sql, [...batch.keys()]);
    } catch (err) {
      states = err as Error;
    }
    for (const [id, waiting] of batch) for (const settle of waiting) settle(states instanceof Error ? states : states.get(id));
  }
}
