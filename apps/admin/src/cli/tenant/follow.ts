import { setTimeout as sleep } from 'node:timers/promises';
import { SseParser } from '@central-logger/tail/sse';
import { CliError } from '../errors.js';
import { apiError, type ApiTarget } from './api.js';
import type { LogLine } from './format.js';

export interface FollowOptions {
  signal: AbortSignal;
  /** Reconnections and other news for the user (stderr). */
  notice: (message: string) => void;
  /** Longest wait between reconnections. Default 30 s. */
  maxDelayMs?: number;
}

/**
 * Follows GET /api/v1/logs/tail until `signal` aborts. When the stream ends
 * or the connection drops, reconnects with Last-Event-ID, the id of the last
 * message handled, so nothing is missed or printed twice; waits the
 * server's `retry:`, doubling while reconnections keep failing. Ends with a
 * CliError when the API refuses the request or ends the stream for good
 * (bad filters, a revoked key, a deactivated client).
 */
export async function followTail(target: ApiTarget, params: URLSearchParams, print: (log: LogLine) => void, o: FollowOptions): Promise<void> {
  const url = `${target.baseUrl}/api/v1/logs/tail${params.size > 0 ? `?${params}` : ''}`;
  let lastEventId = '';
  let retryMs = 1_000;
  let failures = 0;
  while (!o.signal.aborted) {
    const headers: Record<string, string> = { authorization: `Bearer ${target.credential}`, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(url, { headers, signal: o.signal }).catch((err: Error) => err);
    if (o.signal.aborted) return;
    if (res instanceof Error) {
      o.notice(`cannot reach ${target.baseUrl} (${(res.cause as Error | undefined)?.message ?? res.message}); retrying`);
    } else if (res.status !== 200) {
      const body = await res.json().catch(() => undefined);
      // the service is busy or restarting: try again; anything else will not change by retrying
      if (res.status < 500) throw apiError(res.status, body);
      o.notice(`the API answered ${res.status}; retrying`);
    } else {
      failures = -1;
      const parser = new SseParser(lastEventId);
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (const m of parser.push(decoder.decode(chunk, { stream: true }))) {
            if (m.retry !== undefined) retryMs = m.retry;
            if (m.event === 'error') endedBy(m.data);
            else if (m.event === 'message' && m.data !== '') print(JSON.parse(m.data) as LogLine);
            // only a message handled in full moves the position: a reconnect never skips a half-received one
            lastEventId = m.lastEventId;
          }
        }
      } catch (err) {
        if (err instanceof CliError) throw err;
      }
      if (o.signal.aborted) return;
      o.notice('the stream ended; reconnecting where it left off');
    }
    failures++;
    await sleep(Math.min(retryMs * 2 ** Math.max(0, failures), o.maxDelayMs ?? 30_000), undefined, { signal: o.signal }).catch(() => {});
  }
}

/** A final `event: error`: the stream was ended for good unless the service was only unavailable. */
function endedBy(data: string): void {
  let e: { error?: string; message?: string } = {};
  try {
    e = JSON.parse(data) as typeof e;
  } catch {
    // not JSON: treated as unknown below
  }
  if (e.error === 'unavailable') return;
  throw new CliError(e.message ?? 'The API ended the stream');
}
