import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import { EVERY_ANSWER } from './headers.js';
import { randomId } from './ids.js';

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
  server.on('clientError', answerClientError);
  return listenOn(server, options.host, options.port);
}

/** Binds `server` to `host:port`; rejects when it cannot (a port in use). */
export async function listenOn(server: Server, host: string, port: number): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/**
 * Node's own parser refused a request (an invalid byte in the URL, as in a
 * README example pasted with `…`; headers too large; too slow): instead of
 * Node's bare 400 with no body, the contract's JSON error with a request id,
 * then the connection closes (the parser cannot go on). A socket that is
 * gone, or has an answer under way already, is only closed.
 */
export function answerClientError(err: Error & { code?: string; reason?: string }, socket: Duplex): void {
  const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || answering?.headersSent) {
    socket.destroy();
    return;
  }
  const requestId = randomId('req');
  const body = JSON.stringify({ error: 'bad_request', message: clientErrorMessage(err), request_id: requestId });
  const headers = {
    'X-Request-Id': requestId,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...EVERY_ANSWER,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 400 Bad Request\r\n${head}\r\n${body}`);
}

function clientErrorMessage(err: { code?: string; reason?: string }): string {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'The request headers are too large';
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADERS_TIMEOUT') return 'The request did not arrive in time';
  if (err.code === 'HPE_INVALID_URL') return 'The request URL holds a character that is not allowed there: percent-encode it (e.g. … as %E2%80%A6)';
  // llhttp's reasons are fixed texts ("Invalid header value char"), never request bytes
  const reason = typeof err.reason === 'string' && err.reason.length <= 100 ? `: ${err.reason}` : '';
  return `The request is not valid HTTP/1.1${reason}`;
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
