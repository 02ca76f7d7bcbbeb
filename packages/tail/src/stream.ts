import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { TailPage, TailPosition } from '@central-logger/db';
import type { AppError } from '@central-logger/errors';

export interface TailStreamOptions {
  /** Reads the next rows after a position (the tenant's, with the stream's filter). */
  read: (from: TailPosition, limit: number) => Promise<TailPage>;
  /** The SSE id of a position: the opaque cursor a client resumes from. */
  idOf: (position: TailPosition) => string;
  /** Whether the credential still holds; the error to end the stream with when not. */
  recheck: () => Promise<AppError | undefined>;
  /** Where the SSE text goes (the response body). */
  out: Writable;
  heartbeatMs: number;
  /** Longest the reader may leave the buffer full before the stream is dropped. */
  stallMs: number;
  /** Bytes written but not yet taken by the reader, past which reading from Postgres waits. */
  bufferBytes: number;
  /** Rows per read. */
  pageSize: number;
  /** The client's reconnection delay, sent once (SSE `retry:`). */
  retryMs: number;
  /** Reads of a live stream start at least this far apart: announcements meanwhile share the next read. */
  minReadIntervalMs: number;
  onError: (err: Error) => void;
}

export type EndReason = 'client' | 'credential' | 'slow_reader' | 'shutdown' | 'unavailable';

/**
 * One open tail: reads what was stored since its position whenever it is
 * woken (a worker stored its tenant's rows) and writes it as SSE messages,
 * each with its position as `id:`. Pull-based: the next rows are read from
 * Postgres only once the reader took the last ones below `bufferBytes`, so a
 * slow reader costs at most that much memory; one that takes nothing for
 * `stallMs` is dropped and resumes by cursor. A comment heartbeat (with the
 * current position as id, so a resume after a quiet hour costs nothing)
 * keeps proxies from closing an idle stream, and rechecks the credential.
 */
export class TailStream {
  readonly id = `tail_${randomBytes(9).toString('base64url')}`;
  private dirty = true;
  private closed = false;
  private wake: (() => void) | undefined;
  /** Ends the wait between two reads: only closing does, news waits for it. */
  private interrupt: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private endReason: EndReason | undefined;
  private readonly ended: Promise<EndReason>;
  private resolveEnded!: (reason: EndReason) => void;

  private position: TailPosition = { seen: '' };

  constructor(private readonly o: TailStreamOptions) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    o.out.once('close', () => this.finish('client'));
  }

  /** Resolves when the stream ends, with why. */
  get done(): Promise<EndReason> {
    return this.ended;
  }

  /** Bytes written and not yet taken by the reader. */
  get buffered(): number {
    return this.o.out.writableLength;
  }

  /** Starts reading and writing; the first message opens the response with the starting position. */
  start(from: TailPosition): void {
    if (this.closed) return;
    this.position = from;
    this.o.out.write(`retry: ${this.o.retryMs}\nid: ${this.o.idOf(this.position)}\n\n`);
    this.heartbeat = setInterval(() => this.beat(), this.o.heartbeatMs);
    this.heartbeat.unref();
    this.run().catch((err: Error) => {
      this.o.onError(err);
      this.end('unavailable', { error: 'unavailable', message: 'The live tail could not read the logs; reconnect to resume' });
    });
  }

  /** News: the tenant's rows were stored; read them. */
  notify(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** Checks the credential now (a revocation was announced); ends the stream if it no longer holds. */
  async recheck(): Promise<void> {
    if (this.closed) return;
    const refused = await this.o.recheck().catch(() => undefined);
    if (refused) this.end('credential', { error: refused.code, message: refused.message });
  }

  /**
   * Ends the stream: a last `event: error` naming why when `error` is given
   * (the client should not reconnect with the same credential), then the
   * response ends.
   */
  end(reason: EndReason, error?: { error: string; message: string }): void {
    if (this.closed) return;
    if (error && this.o.out.writable) this.o.out.write(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
    this.o.out.end();
    this.finish(reason);
  }

  private finish(reason: EndReason): void {
    if (this.closed) return;
    this.closed = true;
    this.endReason = reason;
    clearInterval(this.heartbeat);
    this.wake?.();
    this.interrupt?.();
    this.resolveEnded(reason);
  }

  private async run(): Promise<void> {
    let lastRead = 0;
    // catching up (the last read was cut short): the next page is read at once
    let behind = false;
    while (!this.closed) {
      if (!this.dirty) await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
      // a busy tenant commits every few ms: without a floor, each stream of it would read as often,
      // and a stream whose filter matches nothing would cost a read per commit
      const wait = behind ? 0 : lastRead + this.o.minReadIntervalMs - performance.now();
      if (wait > 0 && !this.closed)
        await new Promise<void>((resolve) => {
          this.interrupt = resolve;
          setTimeout(resolve, wait);
        });
      this.interrupt = undefined;
      if (this.closed) return;
      this.dirty = false;
      lastRead = performance.now();
      const page = await this.o.read(this.position, this.o.pageSize);
      for (const entry of page.entries) {
        if (this.closed) return;
        this.o.out.write(`id: ${this.o.idOf(entry.position)}\ndata: ${JSON.stringify(entry.log)}\n\n`);
        this.position = entry.position;
        if (this.o.out.writableLength >= this.o.bufferBytes && !(await this.drained())) return;
      }
      this.position = page.next;
      behind = page.more;
      if (page.more) this.dirty = true;
    }
  }

  /** Waits until the reader took what is buffered; false (and the stream dropped) after stallMs. */
  private async drained(): Promise<boolean> {
    const out = this.o.out;
    let timer: NodeJS.Timeout | undefined;
    const ok = await new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        out.off('drain', onDrain);
        out.off('close', onClose);
        clearTimeout(timer);
        resolve(v);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      out.on('drain', onDrain);
      out.on('close', onClose);
      timer = setTimeout(() => done(false), this.o.stallMs);
    });
    if (!ok && !this.closed) {
      // the reader is not reading: nothing more can reach it, so the connection is cut; it resumes by cursor
      out.destroy();
      this.finish('slow_reader');
    }
    return ok;
  }

  private beat(): void {
    if (this.closed) return;
    if (this.o.out.writableLength < this.o.bufferBytes) this.o.out.write(`: heartbeat\nid: ${this.o.idOf(this.position)}\n\n`);
    void this.recheck();
  }

  get reason(): EndReason | undefined {
    return this.endReason;
  }
}
