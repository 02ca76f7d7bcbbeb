import type { Sql } from '@central-logger/db';
import { PeriodicWriter } from './buffered.js';

export const FAILURE_REASONS = [
  'api_key_required',
  'malformed_key',
  'unknown_key',
  'wrong_secret',
  'api_key_revoked',
  'api_key_expired',
  'client_inactive',
  'rate_limited',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** One failed authentication: never the key, at most its public prefix. */
export interface AuthFailure {
  at: Date;
  address: string;
  keyPrefix: string | null;
  reason: FailureReason;
}

export interface AuthFailureLogOptions {
  /** Longest a failure waits in memory before it is written. Default 1 s. */
  flushMs?: number;
  /** Failures that trigger a write at once. Default 500. */
  batchSize?: number;
  /** Most failures held while Postgres is slow or down; beyond, they are counted in `dropped`. Default 20,000. */
  maxBuffered?: number;
  onError?: (err: Error) => void;
}

/**
 * Records failed authentications in `auth_failures` for the alert rules,
 * without a database write per failed request: failures are buffered and
 * inserted together (one statement of array parameters). Under a flood the
 * buffer is bounded and the overflow counted rather than growing memory.
 */
export class AuthFailureLog {
  private buffer: AuthFailure[] = [];
  private readonly writer: PeriodicWriter;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  /** Failures not recorded because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly sql: Sql,
    options: AuthFailureLogOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    this.writer = new PeriodicWriter(options.flushMs ?? 1_000, () => this.write(), options.onError ?? (() => {}));
  }

  record(failure: AuthFailure): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.dropped++;
      return;
    }
    this.buffer.push(failure);
    if (this.buffer.length === this.batchSize) void this.writer.flush();
  }

  get pending(): number {
    return this.buffer.length;
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.close();
  }

  private async write(): Promise<void> {
    const rows = this.buffer;
    if (rows.length === 0) return;
    this.buffer = [];
    try {
      await this.sql`
        insert into auth_failures (occurred_at, address, key_prefix, reason)
        select * from unnest(
          ${rows.map((r) => r.at.toISOString())}::timestamptz[], ${rows.map((r) => r.address)}::text[],
          ${rows.map((r) => r.keyPrefix) as string[]}::text[], ${rows.map((r) => r.reason)}::text[])`;
    } catch (err) {
      // keep them for the next attempt, within the bound
      this.buffer = rows.concat(this.buffer).slice(0, this.maxBuffered);
      throw err;
    }
  }
}
