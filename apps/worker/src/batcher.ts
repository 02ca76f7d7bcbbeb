import { insertDeadLetters, insertLogs, insertNewLogs, isDataError, isUniqueViolation, type LogRow, type Sql } from '@central-logger/db';
import type { QueueLane } from '@central-logger/queue';

export interface BatcherOptions {
  /** Most rows in one INSERT. */
  maxRows: number;
  /** Longest a row waits for others before its batch is written. */
  flushMs: number;
  /** INSERTs in flight at once; the next batch fills while they commit. Default 1. */
  maxInFlight?: number;
  /**
   * After an INSERT met a row already stored, how long every INSERT skips stored
   * rows (ON CONFLICT DO NOTHING) before INSERTs expect new rows again. Default 60,000 ms.
   */
  conflictHoldMs?: number;
  /** Called when an INSERT met a row already stored and was written again skipping stored rows. */
  onConflict?: (rows: number) => void;
}

interface Entry {
  rows: LogRow[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers the rows of concurrently processed jobs into one INSERT, so that a
 * stream of small jobs does not become a stream of small statements. Each
 * job's promise settles only after the statement holding its rows commits.
 * If a batch fails on its data, each job is written alone, and within a job
 * that still fails the bad rows are found by bisection and kept in
 * dead_letter_events: the rows around them are stored, the job completes, and
 * the queue never stalls on an event Postgres will not take. Any other error
 * (connection, outage) fails the jobs, which BullMQ retries with backoff.
 *
 * Fair persistence: rows of fast-lane jobs go into the next INSERT before any
 * of the bulk lane's. A batch is made only when an INSERT slot is free (not
 * queued behind the ones in flight), so the bulk rows the worker holds (the
 * bulk worker's BULK_WORKER_CONCURRENCY jobs of up to GROUP_COMMIT_MAX_EVENTS)
 * never queue ahead of a fast row. And while every slot is busy, fast rows do not
 * wait for one: they go in an INSERT of their own, one more in flight (the
 * express slot). Measured under a flood, that took the victim's p99 in the
 * worker from seconds (waiting for a 2,000-row INSERT, then riding in the
 * next one) to the time of a small INSERT.
 *
 * Expecting new rows: an INSERT is a plain one (insertNewLogs), without the
 * ON CONFLICT arbiter, whose probe of the unique index before every row was
 * about a tenth of Postgres's CPU per row under the ingest bench. A row already
 * stored (a redelivered job, a client's retry) makes it fail whole with a unique
 * violation and store nothing; the same rows are then written again skipping the
 * stored ones (insertLogs), and so is every INSERT for the next `conflictHoldMs`,
 * so a tenant that keeps resending events costs at most one wasted INSERT a hold.
 */
export class LogBatcher {
  private readonly pending: Record<QueueLane, Entry[]> = { fast: [], bulk: [] };
  private pendingRows = 0;
  private fastRows = 0;
  /** The express INSERT (fast rows only, while every slot is busy) is in flight. */
  private express = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private readonly maxInFlight: number;
  /** Waiting for every row added so far to settle (flush). */
  private idle: Array<() => void> = [];
  /** When an INSERT last met a stored row (performance.now()). */
  private conflictAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sql: Sql,
    private readonly options: BatcherOptions,
    private readonly onBatch?: (rows: number, ms: number) => void,
    private readonly onDeadLetter?: (rows: readonly LogRow[], error: unknown) => void,
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 1);
  }

  add(rows: LogRow[], lane: QueueLane = 'fast'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending[lane].push({ rows, resolve, reject });
      this.pendingRows += rows.length;
      if (lane === 'fast') this.fastRows += rows.length;
      if (this.pendingRows >= this.options.maxRows) this.writeNext();
      else this.timer ??= setTimeout(() => this.writeNext(true), this.options.flushMs);
    });
  }

  /** Writes what is pending now; resolves when every row added so far is settled. */
  flush(): Promise<void> {
    const settled = new Promise<void>((resolve) => this.idle.push(resolve));
    this.writeNext(true);
    this.checkIdle();
    return settled;
  }

  /**
   * Starts INSERTs while a slot is free and rows are pending: full batches, or
   * whatever is pending once it waited `flushMs` (`due`) or an INSERT just
   * finished (rows gathered meanwhile go at once, as in group commit).
   */
  private writeNext(due = false): void {
    if (due) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inFlight < this.maxInFlight && this.pendingRows > 0 && (due || this.pendingRows >= this.options.maxRows)) {
      this.inFlight++;
      void this.write(this.take(['fast', 'bulk'])).finally(() => {
        this.inFlight--;
        this.writeNext(true);
        this.checkIdle();
      });
    }
    const expressDue = !this.express && this.fastRows > 0 && this.inFlight >= this.maxInFlight;
    if (expressDue && (due || this.fastRows >= this.options.maxRows)) {
      this.express = true;
      void this.write(this.take(['fast'])).finally(() => {
        this.express = false;
        this.writeNext(true);
        this.checkIdle();
      });
    }
    if ((this.pendingRows > 0 && this.inFlight < this.maxInFlight) || (!this.express && this.fastRows > 0)) {
      this.timer ??= setTimeout(() => this.writeNext(true), this.options.flushMs);
    }
  }

  /** The next batch: up to maxRows rows of `lanes`, fast-lane entries first, a job's rows never split. */
  private take(lanes: ReadonlyArray<QueueLane>): Entry[] {
    const batch: Entry[] = [];
    let rows = 0;
    for (const lane of lanes) {
      const queue = this.pending[lane];
      while (queue.length > 0 && (rows === 0 || rows + queue[0]!.rows.length <= this.options.maxRows)) {
        const e = queue.shift()!;
        batch.push(e);
        rows += e.rows.length;
        if (lane === 'fast') this.fastRows -= e.rows.length;
      }
      if (queue.length > 0) break;
    }
    this.pendingRows -= rows;
    return batch;
  }

  private checkIdle(): void {
    if (this.inFlight > 0 || this.express || this.pendingRows > 0 || this.idle.length === 0) return;
    const idle = this.idle;
    this.idle = [];
    for (const resolve of idle) resolve();
  }

  private async write(batch: Entry[]): Promise<void> {
    // one order for every statement: concurrent INSERTs holding the same keys
    // (a redelivered job, a client's retry) then wait for each other instead of deadlocking
    const rows = batch.flatMap((e) => e.rows).sort(byKey);
    const started = performance.now();
    try {
      await this.insert(rows);
      this.onBatch?.(rows.length, performance.now() - started);
      for (const e of batch) e.resolve();
    } catch (err) {
      if (!isDataError(err)) {
        for (const e of batch) e.reject(err);
      } else if (batch.length > 1) {
        for (const e of batch) await this.write([e]);
      } else {
        await this.isolate([...batch[0]!.rows].sort(byKey)).then(batch[0]!.resolve, batch[0]!.reject);
      }
    }
  }

  /** Inserts rows expecting them new, or skipping stored ones while a conflict is recent (see the class comment). */
  private async insert(rows: LogRow[]): Promise<void> {
    if (performance.now() - this.conflictAt < (this.options.conflictHoldMs ?? 60_000)) {
      await insertLogs(this.sql, rows);
      return;
    }
    try {
      await insertNewLogs(this.sql, rows);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      this.conflictAt = performance.now();
      this.options.onConflict?.(rows.length);
      await insertLogs(this.sql, rows);
    }
  }

  /** Stores `rows` around the ones Postgres refuses, which go to dead_letter_events. */
  private async isolate(rows: LogRow[]): Promise<void> {
    try {
      await insertLogs(this.sql, rows);
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (rows.length === 1) {
        await insertDeadLetters(this.sql, rows, err);
        this.onDeadLetter?.(rows, err);
        return;
      }
      const half = Math.ceil(rows.length / 2);
      await this.isolate(rows.slice(0, half));
      await this.isolate(rows.slice(half));
    }
  }
}

function byKey(a: LogRow, b: LogRow): number {
  if (a.client_id !== b.client_id) return a.client_id < b.client_id ? -1 : 1;
  if (a.event_id !== b.event_id) return a.event_id < b.event_id ? -1 : 1;
  return a.executed_at < b.executed_at ? -1 : a.executed_at > b.executed_at ? 1 : 0;
}
