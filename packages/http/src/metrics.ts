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
 * Counts requests by route pattern (never the raw path: unbounded labels)
 * and final status, and authentication failures by error code. Goes before
 * the error middleware, so it sees the status that error middleware chose.
 */
export function requestMetrics(registry: Registry) {
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const authFailures = new Counter({ name: 'auth_failures_total', help: 'Requests refused for their API key, by error code', labelNames: ['code'], registers: [registry] });
  // a labelled child per method, route and status, found by one string: cheaper than labels by object on every request
  const children = new Map<string, { inc(): void }>();
  return async function countRequests(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const id = `${ctx.method} ${route} ${ctx.status}`;
      let child = children.get(id);
      if (!child) children.set(id, (child = requests.labels(ctx.method, route, String(ctx.status))));
      child.inc();
      if (ctx.status === 401 || ctx.status === 403) {
        authFailures.inc({ code: (ctx.body as { error?: string } | undefined)?.error ?? 'unknown' });
      }
    }
  };
}
