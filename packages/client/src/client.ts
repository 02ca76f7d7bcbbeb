import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/** An event as a workflow owner writes it; `event_id` and `executed_at` are filled in when absent. */
export interface LogEvent {
  environment: string;
  status: string;
  executed_at?: string | Date;
  event_id?: string;
  workflow?: string;
  run_id?: string;
  level?: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  message?: string;
  duration_ms?: number;
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface ClientOptions {
  /** Base URL of the ingest API, e.g. `https://logs.example.com`. */
  url: string;
  apiKey: string;
  /** Events per request. Default 100. */
  batchSize?: number;
  /** Longest an event waits in the buffer before it is sent. Default 1,000 ms. */
  flushIntervalMs?: number;
  /** Most events buffered; past it the oldest are dropped and reported. Default 10,000. */
  maxBuffered?: number;
  /** Attempts per batch for retryable failures (429, 503, other 5xx, network). Default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled each attempt with jitter, unless the server sends Retry-After. Default 500 ms. */
  retryBaseMs?: number;
  /** Gzip bodies larger than this many bytes. Default 1,024. */
  gzipAboveBytes?: number;
  /** Told of events that could not be delivered, and why. Default: a line on stderr. */
  onError?: (error: DeliveryError) => void;
}

/** Events the service refused or that could not be delivered after every attempt. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly events: LogEvent[],
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

interface Sent {
  status: number;
  code?: string;
  message?: string;
  retryAfterMs?: number;
}

/**
 * Buffers events and ships them in batches. Every event gets an `event_id`
 * before its first attempt, so a retried batch is stored once (the service
 * deduplicates on it). Retryable failures back off (honouring Retry-After);
 * a batch refused as too large is split in two; other refusals go to `onError`.
 */
export class CentralLoggerClient {
  private buffer: LogEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private readonly o: Required<ClientOptions>;

  constructor(options: ClientOptions) {
    this.o = {
      batchSize: 100,
      flushIntervalMs: 1_000,
      maxBuffered: 10_000,
      maxAttempts: 8,
      retryBaseMs: 500,
      gzipAboveBytes: 1_024,
      onError: (e) => process.stderr.write(`central-logger: ${e.message} (${e.events.length} events)\n`),
      ...options,
      url: options.url.replace(/\/+$/, ''),
    };
  }

  /** Queues one event; returns its event_id. */
  log(event: LogEvent): string {
    const e: LogEvent = {
      ...event,
      event_id: event.event_id ?? randomUUID(),
      executed_at: event.executed_at instanceof Date ? event.executed_at.toISOString() : (event.executed_at ?? new Date().toISOString()),
    };
    this.buffer.push(e);
    if (this.buffer.length > this.o.maxBuffered) {
      const dropped = this.buffer.splice(0, this.buffer.length - this.o.maxBuffered);
      this.o.onError(new DeliveryError('buffer full: oldest events dropped', dropped));
    }
    if (this.buffer.length >= this.o.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.o.flushIntervalMs).unref();
    return e.event_id!;
  }

  /** Sends everything buffered; resolves when every batch so far is delivered or given up. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, this.o.batchSize);
      const p = this.deliver(batch).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    await Promise.all(this.inFlight);
  }

  /** Flushes and stops the timer. */
  close(): Promise<void> {
    return this.flush();
  }

  /** `POST /api/v1/heartbeat`. */
  async heartbeat(): Promise<{ success: boolean; message: string; clientId: string }> {
    const res = await fetch(`${this.o.url}/api/v1/heartbeat`, { method: 'POST', headers: { 'x-api-key': this.o.apiKey } });
    const body = (await res.json()) as { success: boolean; message: string; clientId: string; error?: string };
    if (!res.ok) throw new DeliveryError(`heartbeat refused: ${body.error ?? res.status}`, [], res.status, body.error);
    return body;
  }

  private async deliver(batch: LogEvent[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.send(batch);
      if (r.status === 202) return;
      if (r.status === 413 && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await Promise.all([this.deliver(batch.slice(0, half)), this.deliver(batch.slice(half))]);
        return;
      }
      const retryable = r.status === 0 || r.status === 429 || r.status >= 500;
      if (!retryable || attempt >= this.o.maxAttempts) {
        this.o.onError(new DeliveryError(`${r.code ?? `HTTP ${r.status}`}: ${r.message ?? 'not delivered'}`, batch, r.status, r.code));
        return;
      }
      const backoff = this.o.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, r.retryAfterMs ?? backoff));
    }
  }

  private async send(batch: LogEvent[]): Promise<Sent> {
    const json = JSON.stringify(batch);
    const gzip = Buffer.byteLength(json) > this.o.gzipAboveBytes;
    try {
      const res = await fetch(`${this.o.url}/api/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': this.o.apiKey, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        body: gzip ? gzipSync(json) : json,
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
      const retryAfter = Number(res.headers.get('retry-after'));
      return { status: res.status, code: body.error, message: body.message, retryAfterMs: Number.isFinite(retryAfter) && res.headers.has('retry-after') ? retryAfter * 1000 : undefined };
    } catch (err) {
      return { status: 0, message: (err as Error).message };
    }
  }
}
