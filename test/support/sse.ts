import { SseParser, type SseMessage } from '@central-logger/tail/sse';
import { qs } from './reads.js';

/** An open GET /api/v1/logs/tail, read as it arrives. */
export interface TailClient {
  status: number;
  headers: Headers;
  /** Every message so far (heartbeats and the opening one included). */
  messages: SseMessage[];
  /** The log events received so far, in order. */
  logs(): Array<Record<string, any>>;
  /** The last event id received (what a reconnect sends as Last-Event-ID). */
  lastEventId(): string;
  /** Resolves once `check` holds on the messages, or rejects after `timeoutMs`. */
  until(check: (messages: SseMessage[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens a tail; for an answer other than 200, `status` and the JSON body (as `error`) are returned instead. */
export async function openTail(
  baseUrl: string,
  key: string | undefined,
  params: Record<string, string | undefined> = {},
  headers: Record<string, string> = {},
): Promise<TailClient & { error?: any }> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}/api/v1/logs/tail${qs(params)}`, {
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), accept: 'text/event-stream', ...headers },
    signal: abort.signal,
  });
  const messages: SseMessage[] = [];
  const parser = new SseParser();
  const waiters = new Set<() => void>();
  let error: any;
  let ended: Promise<void>;
  if (res.status !== 200) {
    const text = await res.text();
    error = text ? JSON.parse(text) : undefined;
    ended = Promise.resolve();
  } else {
    ended = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          messages.push(...parser.push(decoder.decode(chunk, { stream: true })));
          for (const w of waiters) w();
        }
      } catch {
        // aborted by close(), or the server cut the connection
      }
      for (const w of waiters) w();
    })();
  }
  let done = false;
  void ended.then(() => (done = true));
  return {
    status: res.status,
    headers: res.headers,
    error,
    messages,
    logs: () => messages.filter((m) => m.event === 'message' && m.data !== '').map((m) => JSON.parse(m.data)),
    lastEventId: () => parser.lastEventId,
    ended,
    close: () => abort.abort(),
    async until(check, timeoutMs = 10_000, what = 'messages') {
      if (check(messages)) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(messages.map((m) => [m.event, m.data.slice(0, 80)]))}`));
        }, timeoutMs);
        const w = () => {
          if (check(messages) || done) {
            clearTimeout(timer);
            waiters.delete(w);
            if (check(messages)) resolve();
            else reject(new Error(`the stream ended before ${what}; got ${JSON.stringify(messages.map((m) => [m.event, m.data.slice(0, 80)]))}`));
          }
        };
        waiters.add(w);
      });
    },
  };
}
