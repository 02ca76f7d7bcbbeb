import { AppError } from '@central-logger/errors';

export interface BodyBudgetOptions {
  /** Body bytes (after decompression) all requests of the process may hold at once; past it, 503. */
  maxBytes: number;
  /** Body bytes the requests of one owner (a tenant) may hold at once; past it, 429 for that owner only. */
  maxPerOwnerBytes: number;
  /** Retry-After of both refusals, in seconds. */
  retryAfterS: number;
}

/**
 * Bounds the request bodies a process holds in memory at once, in total and
 * per tenant. Each request's body reader takes its bytes from a `BodyHold` as
 * they arrive (after gunzip) and the request gives them all back when it is
 * done, answered or cut off. Without it, one tenant with a valid key could
 * open enough connections sending bodies near MAX_DECOMPRESSED_BYTES to run
 * the process out of heap, and every tenant's ingest with it: now that tenant
 * gets 429 once it holds `maxPerOwnerBytes`, and everyone 503 only when the
 * process as a whole holds `maxBytes`. Parsed, a body takes a few times its
 * bytes: the budget counts the text, the bound it sets covers both.
 */
export class BodyBudget {
  private total = 0;
  private readonly byOwner = new Map<string, number>();

  constructor(readonly options: BodyBudgetOptions) {}

  /** Body bytes held now, in total. */
  get heldBytes(): number {
    return this.total;
  }

  /** A hold for one request of `owner`; `release` it when the request is done. */
  hold(owner: string): BodyHold {
    return new BodyHold(this, owner);
  }

  /** @internal Takes `bytes` for `owner`, or throws the refusal and takes nothing. */
  take(owner: string, bytes: number): void {
    const own = this.byOwner.get(owner) ?? 0;
    if (own + bytes > this.options.maxPerOwnerBytes) {
      throw new AppError(
        'rate_limited',
        `This client's requests hold more than ${this.options.maxPerOwnerBytes} bytes of bodies at once; send fewer or smaller requests at a time`,
        { headers: { 'Retry-After': String(this.options.retryAfterS), Connection: 'close' } },
      );
    }
    if (this.total + bytes > this.options.maxBytes) {
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
}

/** One request's share of a BodyBudget: what its body reader took so far. */
export class BodyHold {
  private bytes = 0;

  constructor(
    private readonly budget: BodyBudget,
    private readonly owner: string,
  ) {}

  /** Takes `bytes` more for this request; throws the budget's refusal (429 or 503) when they would not fit. */
  take(bytes: number): void {
    this.budget.take(this.owner, bytes);
    this.bytes += bytes;
  }

  /** Gives back everything this request took; safe to call more than once. */
  release(): void {
    this.budget.give(this.owner, this.bytes);
    this.bytes = 0;
  }
}
