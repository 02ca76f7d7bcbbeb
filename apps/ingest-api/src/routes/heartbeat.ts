import type { Context } from 'koa';
import type { UsageTracker } from '@central-logger/keys';

/**
 * `POST /api/v1/heartbeat` (the first API's contract, kept for existing agents). The client's last heartbeat
 * is added up in memory and written with the next usage flush, not per
 * request. Any body (e.g. `{"timestamp": ...}`) is ignored: the server's
 * clock is what counts.
 */
export function heartbeat(usage: UsageTracker) {
  return function postHeartbeat(ctx: Context): void {
    const clientId = ctx.state.principal.clientId!;
    usage.recordHeartbeat(clientId);
    ctx.body = { success: true, message: 'Heartbeat received', clientId };
  };
}
