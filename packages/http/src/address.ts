import type { IncomingMessage } from 'node:http';

/**
 * The client's address, as Koa's `ctx.ip` gives it (for handlers that run
 * without Koa): with a trusted proxy, the first X-Forwarded-For entry;
 * otherwise, or without one, the socket's peer.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? '';
}
