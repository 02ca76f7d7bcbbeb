import { AppError } from '@central-logger/errors';

export interface BodyBudgetOptions {
  /** Body bytes (after decompression) all requests of the process may hold at once; past it, the largest holder is cut or 503. */
  maxBytes: number;
  /** Body bytes the requests of one owner (a tenant) may hold at once; past it, 429 for that owner only. */
  maxPerOwnerBytes: number;
  /** Retry-After of the refusals, in seconds. */
  retryAfterS: number;
  /** Called for each request a full process cuts to make room (metrics), with what it held. */
  onCut?: (owner: string, bytes: number) => void;
}

/** What cuts a request whose hold the budget revoked: its body reader's pending read fails with `err` (the 429). */
export type RevokeHold = (err: AppError) => void;

/**
 * Bounds the request bodies a process holds in memory at once, in total and
 * per tenant. Each request's body reader takes its bytes from a `BodyHold` as
 * they arrive (after gunzip) and the request gives them all back when it is
 * done, answered or cut off. Without it, one tenant with a valid key could
 * open enough connections sending bodies near MAX_DECOMPRESSED_BYTES to run
 * the process out of heap, and every tenant's ingest with it: now that tenant
 * gets 429 once it holds `maxPerOwnerBytes`. Parsed, a body takes a few times
 * its bytes: the budget counts the text, the bound it sets covers both.
 *
 * The per-owner cap alone is not enough: whoever holds the keys of
 * `maxBytes / maxPerOwnerBytes` tenants could fill the process with bodies
 * stalled on slow connections, and every other tenant would get 503 for as
 * long as it liked. So a full process shares itself max-min fairly: a
 * requester holding less than its fair share (`maxBytes` / the owners holding
 * bodies, itself counted) is not refused; the budget revokes the holds of the
 * owner holding the most, above that share, largest hold first, until the
 * requester's bytes fit. A revoked hold gives its bytes back at once and its
 * request is cut (its body reader fails with 429 and the connection closes),
 * so stalling bodies buys an attacker nothing but its own 429s. Only a
 * requester at or above its share, or one for which nothing can be
 * reclaimed, gets the 503. Only holds whose body is still being read
 * (`onRevoke`) can be revoked: a body read whole is being parsed and queued,
 * which no client can stall, and giving back bytes still in memory would
 * break the bound.
 */
export class BodyBudget {
  private total = 0;
  /** Bytes each owner holds; an owner holding nothing has no entry (so the entries are in the order owners began holding). */
  private readonly byOwner = new Map<string, number>();
  /**
   * The holds whose body is being read: what a full process may revoke. One flat set (an add and a delete per
   * request, nothing allocated); only the full-process path groups them by owner.
   */
  private readonly reading = new Set<BodyHold>();

  constructor(readonly options: BodyBudgetOptions) {}

  /** Body bytes held now, in total. */
  get heldBytes(): number {
    return this.total;
  }

  /** A hold for one request of `owner`; `release` it when the request is done. */
  hold(owner: string): BodyHold {
    return new BodyHold(this, owner);
  }

  /** @internal Takes `bytes` for `owner`, or throws the refusal and takes nothing; may revoke other owners' holds to make room. */
  take(owner: string, bytes: number): void {
    const own = this.byOwner.get(owner) ?? 0;
    if (own + bytes > this.options.maxPerOwnerBytes) {
      throw this.rateLimited(`This client's requests hold more than ${this.options.maxPerOwnerBytes} bytes of bodies at once`);
    }
    if (this.total + bytes > this.options.maxBytes && !this.reclaim(owner, own, bytes)) {
      throw new AppError('unavailable', 'The service is holding as many request bodies as it can; retry later', {
        headers: { 'Retry-After': String(this.options.retryAfterS), Connection: 'close' },
      });
    }
    this.byOwner.set(owner, own + bytes);
    this.total += bytes;
  }

  /** @internal Gives back what a hold took. */
  give(owner: string, bytes: number): void {
    if (bytes === 0) return;
    this.total -= bytes;
    const left = (this.byOwner.get(owner) ?? 0) - bytes;
    if (left > 0) this.byOwner.set(owner, left);
    else this.byOwner.delete(owner);
  }

  /** @internal `hold`'s body is being read (true) or no longer is: whether it may be revoked. */
  setReading(hold: BodyHold, reading: boolean): void {
    if (reading) this.reading.add(hold);
    else this.reading.delete(hold);
  }

  /**
   * Makes room for `bytes` more of `owner` (holding `own`) in a full process
   * by revoking the holds of the owners above their fair share, the one
   * holding the most first (ties: the one holding the longest), its largest
   * hold first; whether it did. It revokes nothing unless that makes room,
   * nor anything when `owner` holds its share already. The only path that
   * scans: a process that is not full never gets here.
   */
  private reclaim(owner: string, own: number, bytes: number): boolean {
    const share = this.options.maxBytes / (this.byOwner.size + (own > 0 ? 0 : 1));
    if (own >= share) return false;
    // the candidates: owners above the share, with what they hold and their revocable holds, largest first
    const readingOf = new Map<string, BodyHold[]>();
    for (const h of this.reading) {
      if (h.heldBytes === 0 || h.ownerId === owner) continue;
      const holds = readingOf.get(h.ownerId);
      if (holds) holds.push(h);
      else readingOf.set(h.ownerId, [h]);
    }
    const candidates: { held: number; holds: BodyHold[] }[] = [];
    for (const [other, held] of this.byOwner) {
      const holds = readingOf.get(other);
      if (held <= share || !holds) continue;
      candidates.push({ held, holds: holds.sort((x, y) => y.heldBytes - x.heldBytes) });
    }
    const victims: BodyHold[] = [];
    let missing = this.total + bytes - this.options.maxBytes;
    while (missing > 0) {
      let top: (typeof candidates)[number] | undefined;
      for (const c of candidates) if (c.held > share && c.holds.length > 0 && (!top || c.held > top.held)) top = c;
      if (!top) return false;
      const victim = top.holds.shift()!;
      victims.push(victim);
      top.held -= victim.heldBytes;
      missing -= victim.heldBytes;
    }
    for (const victim of victims) {
      this.options.onCut?.(victim.ownerId, victim.heldBytes);
      victim.revoke(
        this.rateLimited(
          `This client's requests held more than their fair share (${Math.floor(share)} bytes) of the bodies the service holds at once while it was full`,
        ),
      );
    }
    return true;
  }

  private rateLimited(what: string): AppError {
    return new AppError('rate_limited', `${what}; send fewer or smaller requests at a time`, {
      headers: { 'Retry-After': String(this.options.retryAfterS), Connection: 'close' },
    });
  }
}

/** One request's share of a BodyBudget: what its body reader took so far. */
export class BodyHold {
  private bytes = 0;
  private cancel: RevokeHold | undefined;
  private revokedWith: AppError | undefined;

  constructor(
    private readonly budget: BodyBudget,
    private readonly owner: string,
  ) {}

  /** The owner (tenant) this request holds bytes for. */
  get ownerId(): string {
    return this.owner;
  }

  /** Bytes this request holds now. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** The 429 that cut this request, if the budget revoked its hold. */
  get revoked(): AppError | undefined {
    return this.revokedWith;
  }

  /** Takes `bytes` more for this request; throws the budget's refusal (429 or 503) when they would not fit, and the 429 once revoked. */
  take(bytes: number): void {
    if (this.revokedWith) throw this.revokedWith;
    this.budget.take(this.owner, bytes);
    this.bytes += bytes;
  }

  /**
   * The body is being read: while it is (until `offRevoke` or `release`), a
   * full process may revoke this hold for a requester with less than its
   * fair share, and `cancel` must then make the pending read fail with the
   * error it is given, promptly, even if the client sends nothing more.
   */
  onRevoke(cancel: RevokeHold): void {
    if (this.revokedWith) {
      cancel(this.revokedWith);
      return;
    }
    this.cancel = cancel;
    this.budget.setReading(this, true);
  }

  /** The body is read (or refused): the hold can no longer be revoked, and keeps its bytes until `release`. */
  offRevoke(): void {
    if (!this.cancel) return;
    this.cancel = undefined;
    this.budget.setReading(this, false);
  }

  /** @internal Gives back all this hold took, at once, and cuts its request with `err`. */
  revoke(err: AppError): void {
    const cancel = this.cancel;
    this.offRevoke();
    this.revokedWith = err;
    this.release();
    cancel?.(err);
  }

  /** Gives back everything this request took; safe to call more than once, and after a revoke (which gave it all back already). */
  release(): void {
    this.offRevoke();
    this.budget.give(this.owner, this.bytes);
    this.bytes = 0;
  }
}
