/**
 * Runs bcrypt compares at most `concurrency` at a time, at most `perOwner` of
 * them for one owner (a key prefix), and serves waiting owners round-robin.
 *
 * Why: native bcrypt runs in libuv's thread pool (4 threads, shared with
 * gzip, fs and dns). Handed to it directly, 600 compares of one flood fill
 * the pool's FIFO queue and another tenant's first verification waits behind
 * all of them (40 s measured). Here a flooded prefix holds at most `perOwner`
 * of the `concurrency` slots and every other prefix's compare is the next to
 * start once a slot frees, whatever the length of the flood's queue; and the
 * pool keeps threads for the gzip bodies of everyone else.
 */
export class FairHashQueue {
  private running = 0;
  private readonly runningBy = new Map<string, number>();
  // owner → its waiting compares; Map order is the round-robin order
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(
    /** Compares at once in this process. */
    readonly concurrency: number,
    /** Compares at once for one owner. */
    readonly perOwner = 1,
  ) {}

  async run<T>(owner: string, task: () => Promise<T>): Promise<T> {
    await this.turn(owner);
    try {
      return await task();
    } finally {
      this.finished(owner);
    }
  }

  /** Compares waiting for a slot. */
  get queued(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  private turn(owner: string): Promise<void> {
    if (this.running < this.concurrency && (this.runningBy.get(owner) ?? 0) < this.perOwner && !this.waiting.has(owner)) {
      this.start(owner);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const q = this.waiting.get(owner);
      if (q) q.push(resolve);
      else this.waiting.set(owner, [resolve]);
    });
  }

  private start(owner: string): void {
    this.running++;
    this.runningBy.set(owner, (this.runningBy.get(owner) ?? 0) + 1);
  }

  private finished(owner: string): void {
    this.running--;
    const n = (this.runningBy.get(owner) ?? 1) - 1;
    if (n === 0) this.runningBy.delete(owner);
    else this.runningBy.set(owner, n);
    this.next();
  }

  // the first owner in round-robin order with room starts one compare and goes to the back
  private next(): void {
    for (const [owner, q] of this.waiting) {
      if (this.running >= this.concurrency) return;
      if ((this.runningBy.get(owner) ?? 0) >= this.perOwner) continue;
      const resolve = q.shift()!;
      this.waiting.delete(owner);
      if (q.length > 0) this.waiting.set(owner, q);
      this.start(owner);
      resolve();
    }
  }
}
