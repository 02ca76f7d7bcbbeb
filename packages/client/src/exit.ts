/**
 * Process hooks shared by every client, so a hundred loggers add one listener
 * each, not a hundred.
 *
 * - `beforeExit` (the event loop ran dry; not emitted on process.exit() or a
 *   signal): each client flushes; the requests keep the process alive until
 *   they are answered, then Node emits `beforeExit` again and, with nothing
 *   left, exits.
 * - `exit` (process.exit(), or the loop ran dry): nothing asynchronous can run
 *   any more, so events still held are lost; each client only counts and
 *   reports them, synchronously.
 */
export interface ExitAware {
  /** Starts a flush if anything is held; must not throw. */
  beforeExit(): void;
  /** Synchronous: reports what is lost. */
  exit(): void;
}

const clients = new Set<ExitAware>();

function onBeforeExit(): void {
  for (const c of clients) c.beforeExit();
}

function onExit(): void {
  for (const c of clients) c.exit();
}

export function watchExit(client: ExitAware): void {
  if (clients.size === 0) {
    process.on('beforeExit', onBeforeExit);
    process.on('exit', onExit);
  }
  clients.add(client);
}

export function unwatchExit(client: ExitAware): void {
  if (!clients.delete(client) || clients.size > 0) return;
  process.off('beforeExit', onBeforeExit);
  process.off('exit', onExit);
}

/**
 * Opt-in: on each signal, `close()` and then, when no one else listens for
 * the signal, raise it again so the process ends as it would have.
 */
export function closeOnSignals(signals: NodeJS.Signals[], close: () => Promise<void>): () => void {
  const handlers = signals.map((signal) => {
    const handler = (): void => {
      void close().finally(() => {
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
