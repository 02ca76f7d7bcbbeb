import { createServer, type RequestListener, type Server } from 'node:http';
import type Koa from 'koa';

export interface ServerOptions {
  host: string;
  port: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
}

/** Starts `app` (a Koa app or a request listener) with request and header timeouts, so a slow client cannot hold a socket forever. */
export async function listen(app: Koa | RequestListener, options: ServerOptions): Promise<Server> {
  const server = createServer(typeof app === 'function' ? app : app.callback());
  server.requestTimeout = options.requestTimeoutMs;
  server.headersTimeout = options.headersTimeoutMs;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting connections and waits for in-flight requests, at most `graceMs`. */
export async function closeServer(server: Server, graceMs = 10_000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

export function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on a TCP port');
  return address.port;
}
