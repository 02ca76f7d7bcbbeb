import { DeliveryError } from './delivery-error.js';
import { closeOnSignals, unwatchExit, watchExit, type ExitAware } from './exit.js';
import { backoffMs, isRetryable, postBatch, type Answer } from './http.js';
import { resolveOptions, type ClientOptions, type LogEvent, type Resolved } from './options.js';
import { uuidv7 } from './event-id.js';

/** An event serialized once, when it was logged. */
interface Entry {
  seq: number;
  json: string;
  bytes: number;
}

/** Events, counted since the client was created. */
export interface ClientStats {
  /** Held now: waiting, or in a request being sent or retried. */
  buffered: number;
  /** Accepted by the service (202). */
  sent: number;
  /** Sent again after a retryable failure (an event sent three times counts twice). */
  retried: number;
  /** Thrown away without an answer: the buffer bound, logged after close, close timed out, process exit. */
  dropped: number;
  /** Refused by the service, given up after `maxAttempts`, or not sendable at all. */
  failed: number;
}

/** Default for `close()`: how long to keep delivering before giving up what is left. */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * Buffers events and ships them in batches; see ClientOptions for the knobs.
 * `log()` never blocks and never throws. Every event gets an `event_id` before
 * its first attempt, so a retried batch is stored once (the service
 * deduplicates on it). A 413 splits the batch; a 400 naming some events sends
 * the others again; other refusals go to `onError` once per batch.
 */
export class CentralLoggerClient implements ExitAware {
  private readonly o: Resolved;
  private waiting: Entry[] = [];
  private waitingBytes = 0;
  private readonly inFlight = new Set<Entry[]>();
  private sending = 0;
  private seq = 0;
  /** Waiting entries up to this seq are due now: the timer fired, or flush() or close() asked. */
  private dueUpTo = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  private flushWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  private readonly counts = { sent: 0, retried: 0, dropped: 0, failed: 0 };
  private dropping = false;
  private closing: AbortController | undefined;
  private closed: Promise<void> | undefined;
  private readonly unhookSignals: () => void;

  constructor(options: ClientOptions = {}) {
    this.o = resolveOptions(options);
    if (this.o.flushOnExit) watchExit(this);
    this.unhookSignals = closeOnSignals(this.o.handleSignals, () => this.close());
  }

  /** Queues one event and returns its event_id; never throws (a problem goes to `onError`). */
  log(event: LogEvent): string | undefined {
    let e: LogEvent | undefined;
    try {
      e = { ...this.o.defaults, ...event, event_id: event.event_id ?? uuidv7(), executed_at: isoTime(event.executed_at) };
      this.add(e);
    } catch (err) {
      this.fail([e ?? event], 'invalid_event', `an event could not be serialized: ${(err as Error).message}`);
    }
    return e?.event_id;
  }

  private add(e: LogEvent): void {
    if (this.closing) {
      this.lose([e], 'closed', 'logged after close()');
      return;
    }
    if (!e.environment || !e.status) {
      this.fail([e], 'invalid_event', 'an event needs environment and status (or defaults for them)');
      return;
    }
    const json = JSON.stringify(e);
    const bytes = Buffer.byteLength(json);
    if (bytes + 2 > this.o.maxBatchBytes) {
      this.fail([e], 'invalid_event', `an event of ${bytes} bytes is over maxBatchBytes`);
      return;
    }
    this.waiting.push({ seq: ++this.seq, json, bytes });
    this.waitingBytes += bytes;
    this.enforceBound();
    this.pump();
  }

  /** Sends everything logged so far; resolves when each of those events is delivered, refused, given up or dropped. */
  flush(): Promise<void> {
    const upTo = this.seq;
    this.dueUpTo = upTo;
    this.pump();
    if (this.lowestPending() > upTo) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ upTo, resolve }));
  }

  /**
   * Flushes, then stops: later events are dropped. After `timeoutMs` what is
   * still held is given up (counted as dropped, reported once). Idempotent.
   */
  close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return this.closed;
    this.closing = new AbortController();
    unwatchExit(this);
    this.unhookSignals();
    clearTimeout(this.timer);
    // retries in progress must now keep the process alive until they finish
    for (const t of this.sleeps.keys()) t.ref();
    const deadline = setTimeout(() => this.giveUp(), timeoutMs);
    this.closed = this.flush().finally(() => clearTimeout(deadline));
    return this.closed;
  }

  /** close() ran out of time: what waits is dropped in one report, requests in flight are aborted and report their own. */
  private giveUp(): void {
    const left = this.waiting.splice(0);
    this.waitingBytes = 0;
    this.closing!.abort();
    if (left.length > 0) this.lose(left.map(parse), 'closed', 'close() timed out before these events were delivered');
    this.settle();
  }

  stats(): ClientStats {
    return { buffered: this.waiting.length + this.sending, ...this.counts };
  }

  /** `POST /api/v1/heartbeat`; unlike log(), this one throws a DeliveryError when refused. */
  async heartbeat(): Promise<{ success: boolean; message: string; clientId: string }> {
    const res = await fetch(`${this.o.baseUrl}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': this.o.apiKey } });
    const body = (await res.json()) as { success: boolean; message: string; clientId: string; error?: string };
    if (!res.ok) throw new DeliveryError(`heartbeat refused: ${body.error ?? res.status}`, [], body.error ?? 'http_error', res.status);
    return body;
  }

  /** @internal the event loop ran dry: deliver what is held before the process ends. */
  beforeExit(): void {
    if (this.waiting.length + this.sending > 0) void this.close();
  }

  /** @internal process exit: nothing asynchronous can run, so what is held is lost; say so. */
  exit(): void {
    const held = [...this.inFlight, this.waiting].flat();
    this.waiting = [];
    if (held.length > 0) this.lose(held.map(parse), 'exit', 'the process exited before these events were sent');
  }

  /** Starts as many batches as are due and allowed, and keeps the timer for the rest. */
  private pump(): void {
    while (this.inFlight.size < this.o.concurrency && this.waiting.length > 0 && this.isDue()) {
      const batch = this.takeBatch();
      this.inFlight.add(batch);
      this.sending += batch.length;
      void this.deliver(batch).finally(() => {
        this.inFlight.delete(batch);
        this.sending -= batch.length;
        this.settle();
        this.pump();
      });
    }
    if (this.waiting.length > 0 && !this.timer && !this.closing) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.dueUpTo = this.seq;
        this.pump();
      }, this.o.flushIntervalMs).unref();
    }
  }

  private isDue(): boolean {
    return this.waiting[0]!.seq <= this.dueUpTo || this.waiting.length >= this.o.batchSize || this.waitingBytes >= this.o.maxBatchBytes;
  }

  private takeBatch(): Entry[] {
    let n = 0;
    let bytes = 2;
    while (n < this.waiting.length && n < this.o.batchSize && (n === 0 || bytes + this.waiting[n]!.bytes + 1 <= this.o.maxBatchBytes)) {
      bytes += this.waiting[n]!.bytes + 1;
      n++;
    }
    const batch = this.waiting.splice(0, n);
    for (const e of batch) this.waitingBytes -= e.bytes;
    return batch;
  }

  /** Drop-oldest: past maxBuffered the oldest waiting events go; onError hears once per episode. */
  private enforceBound(): void {
    const over = this.waiting.length + this.sending - this.o.maxBuffered;
    if (over <= 0) return;
    const dropped = this.waiting.splice(0, over);
    for (const e of dropped) this.waitingBytes -= e.bytes;
    this.counts.dropped += dropped.length;
    if (!this.dropping) {
      this.dropping = true;
      this.report(
        new DeliveryError(
          `buffer full (${this.o.maxBuffered} events): dropping the oldest until the service takes events again`,
          [parse(dropped[0]!)],
          'buffer_full',
        ),
      );
    }
    this.settle();
  }

  private async deliver(batch: Entry[]): Promise<void> {
    const body = `[${batch.map((e) => e.json).join(',')}]`;
    for (let attempt = 1; ; attempt++) {
      const answer = await postBatch(body, {
        url: this.o.logsUrl,
        apiKey: this.o.apiKey,
        gzipAboveBytes: this.o.gzipAboveBytes,
        timeoutMs: this.o.requestTimeoutMs,
        signal: this.closing?.signal,
      });
      if (answer.status >= 200 && answer.status < 300) {
        this.counts.sent += batch.length;
        this.dropping = false;
        return;
      }
      if (this.closing?.signal.aborted) return this.lose(batch.map(parse), 'closed', 'close() timed out before these events were delivered');
      if (answer.status === 413 && batch.length > 1) return this.split(batch);
      if (answer.status === 400 && (answer.invalidIndexes?.length ?? 0) > 0) return this.sendValid(batch, answer);
      if (!isRetryable(answer.status) || attempt >= this.o.maxAttempts) {
        const gaveUp = isRetryable(answer.status) ? `gave up after ${attempt} attempts: ` : '';
        return this.fail(
          batch.map(parse),
          answer.code ?? `http_${answer.status}`,
          `${gaveUp}${answer.code ?? `HTTP ${answer.status}`}: ${answer.message ?? 'not delivered'}`,
          answer.status,
        );
      }
      this.counts.retried += batch.length;
      await this.sleep(
        answer.retryAfterMs !== undefined ? Math.min(answer.retryAfterMs, this.o.retryMaxMs) : backoffMs(attempt, this.o.retryBaseMs, this.o.retryMaxMs),
      );
    }
  }

  private async split(batch: Entry[]): Promise<void> {
    const half = Math.ceil(batch.length / 2);
    await Promise.all([this.deliver(batch.slice(0, half)), this.deliver(batch.slice(half))]);
  }

  /** A 400 names the invalid events by index: report those, send the rest again (a new request, not a retry). */
  private async sendValid(batch: Entry[], answer: Answer): Promise<void> {
    const bad = new Set(answer.invalidIndexes);
    this.fail(batch.filter((_, i) => bad.has(i)).map(parse), answer.code ?? 'validation_failed', `${answer.code}: ${answer.message ?? 'invalid events'}`, 400);
    const rest = batch.filter((_, i) => !bad.has(i));
    if (rest.length > 0) await this.deliver(rest);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeps.delete(timer);
        this.closing?.signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      // a logger never keeps a process alive, except to finish close()
      if (!this.closing) timer.unref();
      this.closing?.signal.addEventListener('abort', wake);
      this.sleeps.set(timer, wake);
    });
  }

  private lowestPending(): number {
    let low = this.waiting[0]?.seq ?? Infinity;
    for (const b of this.inFlight) low = Math.min(low, b[0]!.seq);
    return low;
  }

  /** Resolves the flushes whose events are all settled. */
  private settle(): void {
    const low = this.lowestPending();
    const done = this.flushWaiters.filter((w) => w.upTo < low);
    this.flushWaiters = this.flushWaiters.filter((w) => w.upTo >= low);
    for (const w of done) w.resolve();
  }

  private fail(events: LogEvent[], code: string, message: string, status?: number): void {
    this.counts.failed += events.length;
    this.report(new DeliveryError(message, events, code, status));
  }

  private lose(events: LogEvent[], code: string, message: string): void {
    this.counts.dropped += events.length;
    this.report(new DeliveryError(message, events, code));
  }

  private report(error: DeliveryError): void {
    try {
      this.o.onError(error);
    } catch {
      // an onError that throws must not reach the workflow either
    }
  }
}

/** Creates a client; `url` and `apiKey` default to LOGGER_API_URL and LOGGER_API_KEY. */
export function createLogger(options: ClientOptions = {}): CentralLoggerClient {
  return new CentralLoggerClient(options);
}

function isoTime(at: LogEvent['executed_at']): string {
  if (at instanceof Date) return at.toISOString();
  return at ?? new Date().toISOString();
}

function parse(e: Entry): LogEvent {
  return JSON.parse(e.json) as LogEvent;
}
