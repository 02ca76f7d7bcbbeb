import type { DeliveryError } from './delivery-error.js';

/**
 * An event as a workflow owner writes it; `event_id` and `executed_at` are
 * filled in when absent. `environment` and `status` are required unless the
 * client's `defaults` give them.
 */
export interface LogEvent {
  environment?: string;
  status?: string;
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
  /**
   * The ingest API: a base URL (`https://logs.example.com`) or the logs URL
   * itself (`https://logs.example.com/api/v1/logs`). Default: `LOGGER_API_URL`.
   */
  url?: string;
  /** The key, sent as `X-API-Key`. Default: `LOGGER_API_KEY`. */
  apiKey?: string;
  /** Fields every event gets unless it sets them, e.g. `{ environment: 'production' }`. Default none. */
  defaults?: Partial<LogEvent>;
  /** Most events in one request. Default 100 (the service takes up to 1,000). */
  batchSize?: number;
  /** Most bytes of JSON (before gzip) in one request. Default 512 KiB (the service takes 1 MiB on the wire). */
  maxBatchBytes?: number;
  /** Longest an event waits in the buffer before it is sent. Default 1,000 ms. */
  flushIntervalMs?: number;
  /**
   * Most events held at once, waiting or being sent. When a new event would go
   * past it, the oldest waiting event is dropped (drop-oldest: during an outage
   * the newest events are the ones kept), counted in `stats().dropped`, and
   * `onError` hears of it once per episode. Default 10,000.
   */
  maxBuffered?: number;
  /** Requests in flight at once. Default 2. */
  concurrency?: number;
  /** Attempts per batch for retryable failures (network errors, 408, 429, 5xx). Default 10 (about 2.5 min at the defaults). */
  maxAttempts?: number;
  /** First retry delay; it doubles each attempt, with jitter, up to `retryMaxMs`. A `Retry-After` answer wins. Default 500 ms. */
  retryBaseMs?: number;
  /** Longest wait between two attempts, also for `Retry-After`. Default 30,000 ms. */
  retryMaxMs?: number;
  /** Gzip bodies larger than this many bytes. Default 1,024. */
  gzipAboveBytes?: number;
  /** Longest one request may take. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** Told of events that were refused, given up or dropped. Never given the key. Default: one line on stderr. */
  onError?: (error: DeliveryError) => void;
  /** Flush when the event loop empties (`beforeExit`). Default true. */
  flushOnExit?: boolean;
  /**
   * Signals on which to flush and close, then re-raise the signal when nothing
   * else listens for it. Default none: the logger never takes a signal from the app.
   */
  handleSignals?: NodeJS.Signals[];
}

export type Resolved = Required<Omit<ClientOptions, 'url' | 'defaults'>> & { logsUrl: string; baseUrl: string; defaults: Partial<LogEvent> };

const LOGS_PATH = '/api/v1/logs';

/** The options with their defaults; `url` and `apiKey` fall back to LOGGER_API_URL and LOGGER_API_KEY. */
export function resolveOptions(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): Resolved {
  const url = options.url ?? env.LOGGER_API_URL;
  const apiKey = options.apiKey ?? env.LOGGER_API_KEY;
  const missing = [!url && 'url (or LOGGER_API_URL)', !apiKey && 'apiKey (or LOGGER_API_KEY)'].filter(Boolean);
  if (missing.length > 0) throw new TypeError(`central-logger client: ${missing.join(' and ')} must be set`);
  const { baseUrl, logsUrl } = endpoints(url!);
  const r = {
    batchSize: 100,
    maxBatchBytes: 512 * 1024,
    flushIntervalMs: 1_000,
    maxBuffered: 10_000,
    concurrency: 2,
    maxAttempts: 10,
    retryBaseMs: 500,
    retryMaxMs: 30_000,
    gzipAboveBytes: 1_024,
    requestTimeoutMs: 30_000,
    onError: (e: DeliveryError) => process.stderr.write(`central-logger: ${e.message} (${e.events.length} events)\n`),
    flushOnExit: true,
    handleSignals: [],
    ...withoutUndefined(options),
    apiKey: apiKey!,
    defaults: options.defaults ?? {},
    baseUrl,
    logsUrl,
  };
  // the sending batches always fit in the bound
  r.maxBuffered = Math.max(r.maxBuffered, r.batchSize * r.concurrency);
  return r;
}

/** Accepts the base URL or the logs URL (the seed's LOGGER_API_URL is the latter). */
export function endpoints(url: string): { baseUrl: string; logsUrl: string } {
  const parsed = new URL(url);
  const path = parsed.pathname.replace(/\/+$/, '');
  const basePath = path.endsWith(LOGS_PATH) ? path.slice(0, -LOGS_PATH.length) : path;
  const baseUrl = `${parsed.origin}${basePath}`;
  return { baseUrl, logsUrl: `${baseUrl}${LOGS_PATH}` };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
