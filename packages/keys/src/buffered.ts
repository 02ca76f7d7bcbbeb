/**
 * Runs `write` every `intervalMs` (timer unref'd: it never keeps a process
 * alive) and on demand, one write at a time. Used to turn many per-request
 * facts into one statement a while, so the hot path never waits on Postgres.
 */
export class PeriodicWriter {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();

  constructor(
    intervalMs: number,
    private readonly write: () => Promise<void>,
    private readonly onError: (err: Error) => void,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  /** Writes what is buffered now; resolves after that write (and any before it) settled. */
  flush(): Promise<void> {
    this.running = this.running.then(() => this.write()).catch((err: unknown) => this.onError(err as Error));
    return this.running;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
