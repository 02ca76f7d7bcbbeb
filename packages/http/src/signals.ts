import type { Logger } from './logger.js';

/**
 * Runs `close` once on SIGTERM or SIGINT, then exits. A second signal exits at
 * once, and so does a close still running after `timeoutMs`: a shutdown
 * waiting on work that cannot finish (a worker's job stuck on a locked table,
 * say) must not hang until the orchestrator kills the process. What it
 * abandons is safe: a job whose lock lapses is delivered again, and inserts
 * are idempotent.
 */
export function onShutdown(log: Logger, close: () => Promise<void>, timeoutMs: number): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    log.info({ signal }, 'shutting down');
    setTimeout(() => {
      log.error({ timeout_ms: timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
