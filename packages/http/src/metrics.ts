import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

export type { Registry };
import { EVERY_ANSWER, NO_STORE } from './headers.js';
import { listenOn } from './server.js';

/**
 * A registry of its own per service instance (tests run ingest-api and the
 * worker in one process), with the process metrics (RSS, CPU, event loop lag).
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export interface MetricsListenerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** When set, `/metrics` wants `Authorization: Bearer <token>`. */
  token?: string;
  /** Also answer `GET /health` (200, no token: it says only that the process is up), for a process with no other listener. Default false. */
  health?: boolean;
}

/** Refuses, before anything starts, a metrics listener reachable from other machines without a token. */
export function refuseOpenMetrics(options: Pick<MetricsListenerOptions, 'host' | 'token'>): void {
  if (!isLoopback(options.host) && !options.token) {
    throw new Error(`METRICS_HOST ${options.host} is reachable from other machines: set METRICS_TOKEN, or bind to 127.0.0.1`);
  }
}

/**
 * `/metrics` (Prometheus) on a listener of its own, off the public port: by
 * default on 127.0.0.1, where only the machine's own scraper reaches it.
 * Bound elsewhere, it needs a bearer token (refused at start-up without one).
 * Every process serves its metrics this way (the worker with `/health` too).
 */
export async function serveMetrics(registry: Registry, options: MetricsListenerOptions): Promise<Server> {
  refuseOpenMetrics(options);
  const wanted = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (options.health && req.method === 'GET' && path === '/health') {
      res.writeHead(200, { ...EVERY_ANSWER, ...NO_STORE, 'Content-Type': 'application/json; charset=utf-8' }).end('{"status":"ok"}');
    } else if (req.method !== 'GET' || path !== '/metrics') {
      res
        .writeHead(404, { ...EVERY_ANSWER, 'Content-Type': 'application/json; charset=utf-8' })
        .end('{"error":"not_found","message":"Only GET /metrics is served here"}');
    } else if (wanted && !timingSafeEqual(digest(authorization(req)), wanted)) {
      res
        .writeHead(401, { ...EVERY_ANSWER, 'WWW-Authenticate': 'Bearer realm="metrics"', 'Content-Type': 'application/json; charset=utf-8' })
        .end('{"error":"invalid_api_key","message":"GET /metrics needs Authorization: Bearer <METRICS_TOKEN>"}');
    } else {
      registry.metrics().then(
        (text) => res.writeHead(200, { ...EVERY_ANSWER, ...NO_STORE, 'Content-Type': registry.contentType }).end(text),
        () => res.writeHead(500, EVERY_ANSWER).end(),
      );
    }
  });
  return listenOn(server, options.host, options.port);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function authorization(req: IncomingMessage): string {
  return req.headers.authorization ?? '';
}

// compared as digests: equal lengths for timingSafeEqual, whatever was sent
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Requests by method, route pattern (never the raw path: unbounded labels)
 * and final status, and authentication failures by error code.
 */
export class RequestCounters {
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly authFailures: Counter<'code'>;
  // a labelled child per method, route and status, found by one string: cheaper than labels by object on every request
  private readonly children = new Map<string, { inc(): void }>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.authFailures = new Counter({
      name: 'auth_failures_total',
      help: 'Requests refused for their API key, by error code',
      labelNames: ['code'],
      registers: [registry],
    });
  }

  /** Counts one answered request; `errorCode` is the body's `error`, if any. */
  count(method: string, route: string, status: number, errorCode: string | undefined): void {
    const id = `${method} ${route} ${status}`;
    let child = this.children.get(id);
    if (!child) {
      child = this.requests.labels(method, route, String(status));
      this.children.set(id, child);
    }
    child.inc();
    if (status === 401 || status === 403) this.authFailures.inc({ code: errorCode ?? 'unknown' });
  }
}
