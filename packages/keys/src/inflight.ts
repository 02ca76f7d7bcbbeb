/**
 * Bounds the verifications in flight (looked up, waiting for or running
 * bcrypt) per key prefix and per address, in this process. A slot is taken
 * synchronously, before any await, so a burst that arrives at once is cut
 * off at once: the request beyond the bound is answered 429 without a lookup,
 * a Redis round trip or a hash. One prefix has one valid secret, and
 * concurrent first uses of one key share one verification (the verifier
 * deduplicates by digest), so a bound of a few never refuses an honest
 * client; it only refuses many different secrets tried at the same time.
 * Local by design: it needs no Redis, so it still holds when Redis is down.
 */
export class InFlightBounds {
  private readonly byPrefix = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  constructor(
    /** Verifications of one prefix at a time. */
    readonly perPrefix: number,
    /** Verifications from one address at a time. */
    readonly perAddress: number,
  ) {}

  /** A release function when both have room, else which bound is full (nothing taken). */
  tryAcquire(prefix: string, address: string): (() => void) | 'prefix' | 'address' {
    if ((this.byPrefix.get(prefix) ?? 0) >= this.perPrefix) return 'prefix';
    if ((this.byAddress.get(address) ?? 0) >= this.perAddress) return 'address';
    bump(this.byPrefix, prefix, 1);
    bump(this.byAddress, address, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bump(this.byPrefix, prefix, -1);
      bump(this.byAddress, address, -1);
    };
  }

  /** Prefixes and addresses with a verification in flight (tests: nothing leaks). */
  get size(): number {
    return this.byPrefix.size + this.byAddress.size;
  }
}

// the maps hold only what is in flight: an entry goes when its count reaches 0
function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}
