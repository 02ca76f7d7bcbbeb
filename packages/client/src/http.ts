import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzip = promisify(gzipCallback);

/** What one request came to; status 0 is a network failure or a timeout. */
export interface Answer {
  status: number;
  code?: string;
  message?: string;
  /** From `Retry-After` (seconds or an HTTP date). */
  retryAfterMs?: number;
  /** Indexes of the events a 400 named (`details[].index`). */
  invalidIndexes?: number[];
}

export interface PostOptions {
  url: string;
  apiKey: string;
  gzipAboveBytes: number;
  timeoutMs: number;
  /** Aborts the request (close() past its deadline). */
  signal?: AbortSignal;
}

const USER_AGENT = 'central-logger-client/0.1';

/** POSTs a JSON array body (already serialized) to the logs URL. Never throws. */
export async function postBatch(body: string, o: PostOptions): Promise<Answer> {
  try {
    const zipped = Buffer.byteLength(body) > o.gzipAboveBytes;
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const res = await fetch(o.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': o.apiKey,
        'user-agent': USER_AGENT,
        ...(zipped ? { 'content-encoding': 'gzip' } : {}),
      },
      body: zipped ? await gzip(body) : body,
      signal: o.signal ? AbortSignal.any([timeout, o.signal]) : timeout,
    });
    const json = (await res.json().catch(() => ({}))) as { error?: string; message?: string; details?: Array<{ index?: number }> };
    return {
      status: res.status,
      code: json.error,
      message: json.message,
      retryAfterMs: retryAfterMs(res.headers.get('retry-after')),
      invalidIndexes: json.details?.flatMap((d) => (Number.isInteger(d.index) ? [d.index!] : [])),
    };
  } catch (err) {
    return { status: 0, code: 'network_error', message: (err as Error).message };
  }
}

/** Network failures, timeouts, 408, 429 and 5xx are worth another attempt; other answers will not change. */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/** Exponential backoff with equal jitter: half the step fixed, half random, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return step / 2 + Math.random() * (step / 2);
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
