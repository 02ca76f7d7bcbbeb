import { answerWithin, isUnavailable, type Sql } from '@central-logger/db';
import { AppError } from '@central-logger/errors';
import { findKeyStates, type KeyForVerification } from './store.js';

/** How often a state served stale is read again, and Postgres asked again at all, while it is away. */
const STALE_RETRY_MS = 1_000;

export interface VerifiedKeysOptions {
  ttlMs: number;
  maxEntries: number;
  /** How long after the database last confirmed a state it may still answer while Postgres is away. */
  staleMaxMs: number;
  /** Longest wait for a read of key data before it counts as Postgres being away. */
  readTimeoutMs: number;
}

export type Invalidation = { keyId: string } | { clientId: string } | { all: true };

interface Entry {
  /** The key's state as last read; `key.keyHash` is the hash its secret verified against. */
  key: KeyForVerification;
  /** The state is trusted until then, unless an invalidation came first. */
  until: number;
  epoch: number;
  /** When the database last confirmed the state. */
  confirmedAt: number;
  /** An invalidation named the key (or its client) since: the state may be wrong, so it is never served stale. */
  doubted: boolean;
  /** The last read of the state could not reach the database: it is served stale, and read again in the background. */
  failing: boolean;
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
 *
 * While Postgres cannot answer, a key keeps the state last read for it, up to
 * `staleMaxMs` after the database last confirmed it, unless an invalidation
 * named it (or its client, or all keys) since: ingest goes on for the keys it
 * knows, and a revocation announced over Redis still stops its key. A key
 * whose state cannot be used so is answered 503 unavailable, never 500.
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

  /** States served stale because Postgres could not be read: tests read it. */
  staleAnswers = 0;
  // until then (performance.now()), Postgres counts as away without asking it
  private awayUntil = 0;

  constructor(
    private readonly sql: Sql,
    private readonly options: VerifiedKeysOptions,
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
    const now = this.now();
    if (entry.epoch === this.epoch && entry.until > now) return entry.key;
    // while the database is away, a usable state answers at once and is read again in the background
    const stale = entry.failing && this.usableStale(entry, now);
    // a read that started before an invalidation may predate the change: do not join it
    if (entry.refreshing?.generation === this.generation) return stale ? entry.key : entry.refreshing.read;
    const refreshing = { generation: this.generation, read: this.refresh(digest, entry) };
    entry.refreshing = refreshing;
    void refreshing.read
      .finally(() => {
        if (entry.refreshing === refreshing) entry.refreshing = undefined;
      })
      .catch(() => {});
    if (stale) this.staleAnswers++;
    return stale ? entry.key : refreshing.read;
  }

  /**
   * Runs a read of key data bounded by the read timeout; 503 unavailable when
   * Postgres cannot answer. Once a read found it away, reads in the next
   * second fail at once rather than each waiting out the timeout.
   */
  read<T>(query: () => Promise<T>): Promise<T> {
    // real time, not the injectable clock: this paces connection attempts
    if (performance.now() < this.awayUntil) return Promise.reject(verificationUnavailable());
    return answerWithin(query(), this.options.readTimeoutMs).then(
      (result) => {
        this.awayUntil = 0;
        return result;
      },
      (err: unknown) => {
        if (!isUnavailable(err)) throw err;
        this.awayUntil = performance.now() + STALE_RETRY_MS;
        throw verificationUnavailable(err);
      },
    );
  }

  // the last state read, not named by an invalidation since, and confirmed recently enough
  private usableStale(entry: Entry, now: number): boolean {
    return entry.epoch === this.epoch && !entry.doubted && now - entry.confirmedAt <= this.options.staleMaxMs;
  }

  /**
   * Remembers a secret that verified against `key.keyHash`. If an invalidation
   * came while it was read (`generation` is no longer current), the state may
   * predate it: the secret is kept but the state is stale, re-read at the next
   * use (one query, no hash).
   */
  remember(digest: string, key: KeyForVerification, generation: number): void {
    this.entries.delete(digest);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    const now = this.now();
    const current = generation === this.generation;
    this.entries.set(digest, { key, until: current ? now + this.options.ttlMs : 0, epoch: this.epoch, confirmedAt: now, doubted: !current, failing: false });
  }

  invalidate(what: Invalidation): void {
    this.generation++;
    if ('all' in what) {
      this.epoch++;
      return;
    }
    for (const entry of this.entries.values()) {
      const k = entry.key;
      if (('keyId' in what && k.id === what.keyId) || ('clientId' in what && k.clientId === what.clientId)) {
        entry.until = 0;
        entry.doubted = true;
      }
    }
  }

  private async refresh(digest: string, entry: Entry): Promise<KeyForVerification | 'gone' | 'rehash' | undefined> {
    const generation = this.generation;
    let state: KeyForVerification | undefined;
    try {
      state = await this.read(() => this.readState(entry.key.id));
    } catch (err) {
      return this.readFailed(digest, entry, err);
    }
    entry.failing = false;
    const current = this.entries.get(digest) === entry;
    const changed = !state ? 'gone' : state.keyHash !== entry.key.keyHash || state.hashVersion !== entry.key.hashVersion ? 'rehash' : undefined;
    if (changed) {
      if (current) this.entries.delete(digest);
      return changed;
    }
    if (!current) return state!;
    entry.key = state!;
    if (generation === this.generation) {
      const now = this.now();
      entry.until = now + this.options.ttlMs;
      entry.epoch = this.epoch;
      entry.confirmedAt = now;
      entry.doubted = false;
    }
    return state;
  }

  // Postgres is away: the last state, if usable, answers (read again at most once a second); otherwise 503
  private readFailed(digest: string, entry: Entry, err: unknown): KeyForVerification {
    const now = this.now();
    if (!(err instanceof AppError && err.code === 'unavailable') || this.entries.get(digest) !== entry || !this.usableStale(entry, now)) throw err;
    entry.failing = true;
    entry.until = Math.min(now + STALE_RETRY_MS, entry.confirmedAt + this.options.staleMaxMs);
    this.staleAnswers++;
    return entry.key;
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

/** 503 for a key whose state cannot be read or used while Postgres is away. */
export function verificationUnavailable(cause?: unknown): AppError {
  return new AppError('unavailable', 'API keys cannot be verified right now; retry later', { headers: { 'Retry-After': '5' }, cause });
}
