import type { Context, Next } from 'koa';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

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

/** `GET /metrics`: the registry in the Prometheus text format. */
export function metricsRoute(registry: Registry) {
  return async function metrics(ctx: Context): Promise<void> {
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  };
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
    this.requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
    this.authFailures = new Counter({ name: 'auth_failures_total', help: 'Requests refused for their API key, by error code', labelNames: ['code'], registers: [registry] });
  }

  /** Counts one answered request; `errorCode` is the body's `error`, if any. */
  count(method: string, route: string, status: number, errorCode: string | undefined): void {
    const id = `${method} ${route} ${status}`;
    let child = this.children.get(id);
    if (!child) this.children.set(id, (child = this.requests.labels(method, route, String(status))));
    child.inc();
    if (status === 401 || status === 403) this.authFailures.inc({ code: errorCode ?? 'unknown' });
  }
}

/** Counts every request the Koa app answers; goes before the error middleware, so it sees the status that chose. */
export function requestMetrics(counters: RequestCounters) {
  return async function countRequests(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      counters.count(ctx.method, route, ctx.status, (ctx.body as { error?: string } | undefined)?.error);
    }
  };
}
