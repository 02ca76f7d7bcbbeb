import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { parseTailQuery } from '@central-logger/events';
import type { KeyVerifier } from '@central-logger/keys';
import type { TailHub } from '@central-logger/tail';
import { isUserPrincipal } from '@central-logger/tenant-auth';
import { credentialRefusal } from '../middleware/authenticate.js';

/**
 * `GET /api/v1/logs/tail`: the tenant's logs as they are stored, as
 * Server-Sent Events; `Last-Event-ID` (or `?cursor=`) resumes after the
 * last event received, with no gap and no repeat (see TailHub and
 * packages/db logs-tail.ts). Parameters, the cursor and the per-key and
 * per-client limits are checked before the 200 is sent, so they answer 400
 * or 429 as JSON.
 */
export function tailLogs(hub: TailHub, verifier: KeyVerifier) {
  return async function tail(ctx: Context): Promise<void> {
    const principal = ctx.state.principal;
    const { filter, cursor } = parseTailQuery(ctx.query);
    // a browser's EventSource reconnects to the same URL with Last-Event-ID: the header is the newer position
    const lastEventId = ctx.get('Last-Event-ID');
    const out = new PassThrough();
    const headers = ctx.headers;
    const address = ctx.ip;
    await hub.open({
      clientId: principal.clientId!,
      keyId: principal.keyId,
      userId: isUserPrincipal(principal) ? principal.userId : undefined,
      filter,
      cursor: lastEventId !== '' ? lastEventId : cursor,
      recheck: () => credentialRefusal(verifier, headers, address, principal, 'logs:read'),
      out,
    });
    ctx.type = 'text/event-stream';
    // proxies (nginx) would otherwise hold events back to fill their buffers
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = out;
  };
}
