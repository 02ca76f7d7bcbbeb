import type { LogFilter } from '@central-logger/events';
import type { Sql } from './client.js';
import { isUnavailable } from './errors.js';
import { readTail, type TailPage, type TailPosition, type TailReadLimit } from './logs-tail.js';

/** Where one tenant read ran: the standby (with its lag when last sampled) or the primary. */
export interface ReadServer {
  sql: Sql;
  /** Set when `sql` is the standby: its replay lag, in ms, at the last sample. */
  lagMs?: number;
}

/** The standby as reads see it: serving them, answering but too far behind (reads on the primary), or not answering. */
export type ReplicaState = 'ok' | 'lagging' | 'down';

export interface ReadRouterOptions {
  /** How often the standby's lag (and whether it answers) is sampled. Default 1,000 ms. */
  sampleMs?: number;
  /**
   * Reads leave a standby whose sampled lag is above this many ms for the
   * primary, and return once a sample is at or under it
   * (READ_REPLICA_MAX_LAG_MS). 0: no cutoff. Default 30,000.
   */
  maxLagMs?: number;
  /** Measures the standby's replay lag in ms (default: one statement on the standby); a seam for tests. */
  measureLag?: (replica: Sql) => Promise<number>;
  /** A sample or a read on the standby failed; reads go to the primary until a sample succeeds. */
  onDown?: (err: Error) => void;
  /** After `onDown`, a sample succeeded: reads return to the standby (unless its lag is above `maxLagMs`: `onLagging` follows). */
  onUp?: (lagMs: number) => void;
  /** The sampled lag crossed `maxLagMs`: reads move to the primary (`true`) or back to the standby (`false`). Once per crossing. */
  onLagging?: (lagging: boolean, lagMs: number) => void;
}

/**
 * Chooses the server of each tenant read that may be a little behind (list,
 * export, stats, histogram, live-tail catch-up): the streaming standby of
 * READ_REPLICA_URL while it answers, else the primary's read pool. Reads
 * that must see the caller's own writes never come here: they use the
 * primary pool directly.
 *
 * The standby's lag is sampled every `sampleMs` (one statement, so the
 * header costs no round trip per request): zero while it streams from the
 * primary and has replayed all the WAL it received; otherwise (replay
 * behind, or cut off from the primary) how old its last replayed commit is,
 * an upper bound on how stale its answers are. When the
 * standby is down, or its lag is above `maxLagMs`, reads fall back to the
 * primary: an answer from the primary is never older than one from the
 * standby, and a standby outage must not become a read outage. The other way
 * round, a read the primary cannot take goes to a standby too far behind
 * (its data is old, but it is the only answer there is).
 */
export class ReadRouter {
  private lag: number | undefined;
  private up = false;
  /** Reported down (onDown) and not yet up again. */
  private down = false;
  private lagging = false;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    readonly primary: Sql,
    readonly replica?: Sql,
    private readonly options: ReadRouterOptions = {},
  ) {
    if (!replica) return;
    this.sampling = this.sample();
    this.timer = setInterval(() => void this.sample(), options.sampleMs ?? 1_000);
    this.timer.unref();
  }

  /** The standby's lag at the last sample, in ms; undefined without a standby or while it is down. */
  get lagMs(): number | undefined {
    return this.up ? this.lag : undefined;
  }

  /** The standby's state at the last sample (/ready); undefined without a standby. */
  get state(): ReplicaState | undefined {
    if (!this.replica) return undefined;
    if (!this.up) return 'down';
    return this.lagging ? 'lagging' : 'ok';
  }

  /** Resolves once the first sample is in (tests, start-up). */
  async ready(): Promise<void> {
    await this.sampling;
  }

  /** Samples the standby now, as the timer does every `sampleMs` (tests). */
  async sampleNow(): Promise<void> {
    await this.sample();
  }

  /** The server for the next read: the standby while its last sample succeeded with a lag under the cutoff. */
  choose(): ReadServer {
    if (this.replica && this.up && !this.lagging) return { sql: this.replica, lagMs: this.lag ?? 0 };
    return { sql: this.primary };
  }

  /**
   * Runs `fn` on the chosen server; when the standby cannot be reached (or
   * cancelled the query for a replay conflict), once more on the primary.
   */
  async read<T>(fn: (sql: Sql) => Promise<T>): Promise<{ value: T; server: ReadServer }> {
    const server = this.choose();
    try {
      return { value: await fn(server.sql), server };
    } catch (err) {
      const other = this.fallback(server, err);
      if (!other) throw err;
      return { value: await fn(other.sql), server: other };
    }
  }

  /** Stops sampling (the pools are the caller's to end). */
  close(): void {
    clearInterval(this.timer);
  }

  /** Where a read that failed on `server` is tried once more, if anywhere. */
  private fallback(server: ReadServer, err: unknown): ReadServer | undefined {
    if (!this.replica) return undefined;
    if (server.sql === this.replica) {
      if (!standbyFailed(err)) return undefined;
      this.markDown(err as Error);
      return { sql: this.primary };
    }
    // on the primary for lag: an old answer beats none while the primary is unreachable
    if (this.up && this.lagging && isUnavailable(err)) return { sql: this.replica, lagMs: this.lag ?? 0 };
    return undefined;
  }

  private async sample(): Promise<void> {
    let lag: number;
    try {
      lag = Math.round(await (this.options.measureLag ?? measureLag)(this.replica!));
    } catch (err) {
      this.markDown(err as Error);
      return;
    }
    this.lag = lag;
    this.up = true;
    if (this.down) {
      this.down = false;
      this.options.onUp?.(lag);
    }
    const max = this.options.maxLagMs ?? 30_000;
    const lagging = max > 0 && lag > max;
    if (lagging !== this.lagging) this.options.onLagging?.(lagging, lag);
    this.lagging = lagging;
  }

  private markDown(err: Error): void {
    if (this.up) {
      this.options.onDown?.(err);
      this.down = true;
    }
    this.up = false;
    // once it answers again, a lag above the cutoff is reported anew
    this.lagging = false;
  }
}

/**
 * The standby's replay lag in ms: 0 while it streams and has replayed all it
 * received, otherwise the age of its last replayed commit (0 on a primary).
 */
async function measureLag(replica: Sql): Promise<number> {
  const [row] = await replica`
    select case
      when not pg_is_in_recovery() then 0
      when exists (select from pg_stat_wal_receiver) and pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
      else greatest(0, extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)
    end::float8 as lag_ms`;
  return Number(row?.lag_ms ?? 0);
}

/** The standby is unreachable, or cancelled the statement because replay needed its rows (40001 on a standby). */
function standbyFailed(err: unknown): boolean {
  return isUnavailable(err) || (err as { code?: unknown } | null)?.code === '40001';
}

/**
 * A live tail's catch-up read on a standby, or undefined when the standby
 * has not replayed far enough to serve it (the caller reads the primary).
 *
 * A standby's `pg_current_snapshot()` lists no transaction in flight (its
 * xip is empty, measured on PostgreSQL 15: every running transaction shows
 * as seen), so a position taken there would skip those transactions' rows
 * forever. Its xmin is right, though: every transaction below it has ended
 * and been replayed. So the read is bounded by `xmin:xmin:`, which a
 * primary read can continue from without a gap or a repeat, and it is made
 * only when that bound sees everything the position saw (otherwise the
 * stream would move back and send rows twice).
 */
export async function readTailOnStandby(
  standby: Sql,
  clientId: string,
  filter: LogFilter,
  from: TailPosition,
  limit: TailReadLimit,
): Promise<TailPage | undefined> {
  const [row] = await standby`select pg_current_snapshot()::text as s`;
  const xmin = BigInt(String(row!.s).split(':')[0]!);
  const bound = from.upTo ?? from.seen;
  if (BigInt(bound.split(':')[1]!) > xmin) return undefined;
  return readTail(standby, clientId, filter, from.upTo ? from : { seen: from.seen, upTo: `${xmin}:${xmin}:` }, limit);
}
