import Koa from 'koa';
import Router from '@koa/router';
import type { IngestConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import { errorMiddleware, health, metricsRoute, ready, requestMetrics, type Logger } from '@central-logger/http';
import type { KeyVerifier } from '@central-logger/keys';
import type { LogsProducer } from '@central-logger/queue';
import type { Redis } from 'ioredis';
import { authenticate } from './middleware/authenticate.js';
import { backpressure } from './middleware/backpressure.js';
import { rateLimit } from './middleware/rate-limit.js';
import { getLimits } from './routes/limits.js';
import { ingestLogs } from './routes/logs-ingest.js';
import { createThroughput } from './throughput.js';

export interface IngestDeps {
  config: IngestConfig;
  sql: Sql;
  redis: Redis;
  verifier: KeyVerifier;
  producer: LogsProducer;
  log: Logger;
}

/** The public API: wiring only; the logic lives in packages/. */
export function createIngestApp(deps: IngestDeps): Koa {
  const app = new Koa();
  app.proxy = deps.config.TRUST_PROXY;
  app.silent = true;
  const tp = createThroughput(deps);

  const router = new Router();
  router.get('/health', health);
  router.get('/ready', ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }));
  router.get('/metrics', metricsRoute(tp.metrics.registry));
  router.post(
    '/api/v1/logs',
    authenticate(deps.verifier, 'logs:write'),
    rateLimit({ limiter: tp.limiter, limits: tp.limits, sql: deps.sql, log: deps.log }),
    backpressure(deps.redis, tp.backlog, deps.config.UNAVAILABLE_RETRY_AFTER_S),
    ingestLogs(deps.config, tp.committer, tp.metrics),
  );
  router.get('/api/v1/limits', authenticate(deps.verifier), getLimits(tp.limits, tp.limiter));

  app.use(requestMetrics(tp.metrics.registry));
  app.use(errorMiddleware(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}
