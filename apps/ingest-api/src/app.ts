import Koa from 'koa';
import Router from '@koa/router';
import type { IngestConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import { errorMiddleware, health, metricsRoute, ready, requestMetrics, type Logger } from '@central-logger/http';
import type { KeyVerifier } from '@central-logger/keys';
import { LimitsResolver, RateLimiter } from '@central-logger/limits';
import { BacklogMonitor, GroupCommitter, type LogsProducer } from '@central-logger/queue';
import type { Redis } from 'ioredis';
import { authenticate } from './middleware/authenticate.js';
import { backpressure } from './middleware/backpressure.js';
import { rateLimit } from './middleware/rate-limit.js';
import { createIngestMetrics } from './metrics.js';
import { getLimits } from './routes/limits.js';
import { ingestLogs } from './routes/logs-ingest.js';

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

  const { config } = deps;
  const backlog = new BacklogMonitor(deps.producer.queue, { sampleMs: config.BACKLOG_SAMPLE_MS, maxJobs: config.MAX_QUEUE_BACKLOG_JOBS });
  const metrics = createIngestMetrics(() => backlog.current());
  const committer = new GroupCommitter((job) => deps.producer.enqueue(job), { windowMs: config.GROUP_COMMIT_MS, maxEvents: config.GROUP_COMMIT_MAX_EVENTS }, (_groups, events) => metrics.jobEvents.observe(events));
  const limiter = new RateLimiter(deps.redis, `${config.QUEUE_PREFIX}:ingest`);
  const limits = new LimitsResolver(deps.sql, limitsDefaults(config), config.LIMITS_CACHE_TTL_MS, (err) => deps.log.warn({ err: err.message }, 'could not read client limits; using the last known'));

  const router = new Router();
  router.get('/health', health);
  router.get('/ready', ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }));
  router.get('/metrics', metricsRoute(metrics.registry));
  router.post('/api/v1/logs', authenticate(deps.verifier, 'logs:write'), rateLimit({ limiter, limits, sql: deps.sql, log: deps.log }), backpressure(deps.redis, backlog, config.UNAVAILABLE_RETRY_AFTER_S), ingestLogs(config, committer, metrics));
  router.get('/api/v1/limits', authenticate(deps.verifier), getLimits(limits, limiter));

  app.use(requestMetrics(metrics.registry));
  app.use(errorMiddleware(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

function limitsDefaults(c: IngestConfig) {
  return {
    requestsPerSecond: c.RATE_KEY_REQUESTS_PER_SECOND,
    requestBurst: c.RATE_KEY_REQUEST_BURST,
    eventsPerSecond: c.RATE_KEY_EVENTS_PER_SECOND,
    eventBurst: c.RATE_KEY_EVENT_BURST,
    eventsPerDay: c.RATE_TENANT_EVENTS_PER_DAY,
  };
}
