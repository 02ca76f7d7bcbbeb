import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';

/** Whose address a request carries: the proxy settings of the HTTP apps' config. */
export interface ProxyTrust {
  /** Take the address from `X-Forwarded-For`. */
  TRUST_PROXY: boolean;
  /** Proxies in front that append to `X-Forwarded-For`. */
  TRUST_PROXY_HOPS: number;
}

/**
 * The client's address, the one reading of it for every route (raw handlers
 * call this; Koa's `ctx.ip` is this through `trustProxy`): the socket's peer;
 * with TRUST_PROXY, the `X-Forwarded-For` entry TRUST_PROXY_HOPS from the
 * right. Each proxy appends the peer it saw, so that entry is what the
 * outermost trusted proxy saw; everything left of it is the client's to
 * choose, and taking it would let a client pick the address that failure
 * limits, sign-in limits and in-flight bounds count.
 */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  if (trust.TRUST_PROXY) {
    const header = req.headers['x-forwarded-for'];
    // empty entries can only come from the client's part, left of what the proxies appended
    const entries = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    // fewer entries than hops: the leftmost, as Koa's maxIpsCount does
    if (entries.length > 0) return entries[Math.max(0, entries.length - trust.TRUST_PROXY_HOPS)]!;
  }
  return req.socket.remoteAddress ?? '';
}

const ADDRESS = Symbol('clientAddress');

/** Makes a Koa app's `ctx.ip` the `clientAddress` of the request (and `ctx.ips` the entries it trusts). */
export function trustProxy(app: Koa, trust: ProxyTrust): void {
  app.proxy = trust.TRUST_PROXY;
  app.maxIpsCount = trust.TRUST_PROXY_HOPS;
  type Request = { req: IncomingMessage; [ADDRESS]?: string };
  Object.defineProperty(app.request, 'ip', {
    configurable: true,
    get(this: Request): string {
      this[ADDRESS] ??= clientAddress(this.req, trust);
      return this[ADDRESS];
    },
    set(this: Request, address: string) {
      this[ADDRESS] = address;
    },
  });
}
