import { insertDeadLetters, insertLogs, isDataError, type LogRow, type Sql } from '@central-logger/db';

export interface BatcherOptions {
  /** Most rows in one INSERT. */
  maxRows: number;
  /** Longest a row waits for others before its batch is written. */
  flushMs: number;
  /** INSERTs in flight at once; the next batch fills while they commit. Default 1. */
  maxInFlight?: number;
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
 */
export class LogBatcher {
  private pending: Entry[] = [];
  private pendingRows = 0;
  private timer: NodeJS.Timeout | undefined;
  /** One chain of statements per lane; a batch goes to the lane that is free soonest. */
  private readonly lanes: Array<{ tail: Promise<void>; queued: number }>;

  constructor(
    private readonly sql: Sql,
    private readonly options: BatcherOptions,
    private readonly onBatch?: (rows: number, ms: number) => void,
    private readonly onDeadLetter?: (rows: readonly LogRow[], error: unknown) => void,
  ) {
    this.lanes = Array.from({ length: Math.max(1, options.maxInFlight ?? 1) }, () => ({ tail: Promise.resolve(), queued: 0 }));
  }

  add(rows: LogRow[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ rows, resolve, reject });
      this.pendingRows += rows.length;
      if (this.pendingRows >= this.options.maxRows) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.flushMs);
    });
  }

  /** Writes what is pending now; resolves when every batch so far is settled. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    this.pendingRows = 0;
    if (batch.length > 0) {
      const lane = this.lanes.reduce((a, b) => (b.queued < a.queued ? b : a));
      lane.queued++;
      lane.tail = lane.tail.then(() => this.write(batch)).finally(() => lane.queued--);
    }
    return Promise.all(this.lanes.map((l) => l.tail)).then(() => undefined);
  }

  private async write(batch: Entry[]): Promise<void> {
    // one order for every statement: concurrent INSERTs holding the same keys
    // (a redelivered job, a client's retry) then wait for each other instead of deadlocking
    const rows = batch.flatMap((e) => e.rows).sort(byKey);
    const started = performance.now();
    try {
      await insertLogs(this.sql, rows);
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
