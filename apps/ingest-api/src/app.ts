import Koa from 'koa';
import Router from '@koa/router';
import type { IngestConfig } from '@central-logger/config';
import type { CursorCodec, Sql } from '@central-logger/db';
import { errorMiddleware, health, metricsRoute, ready, requestMetrics, type Logger } from '@central-logger/http';
import type { KeyVerifier } from '@central-logger/keys';
import type { LogsProducer } from '@central-logger/queue';
import type { Redis } from 'ioredis';
import { authenticate } from './middleware/authenticate.js';
import { backpressure } from './middleware/backpressure.js';
import { rateLimit } from './middleware/rate-limit.js';
import { getLimits } from './routes/limits.js';
import { ingestLogs } from './routes/logs-ingest.js';
import { heartbeat } from './routes/heartbeat.js';
import { createOwnKey } from './routes/keys-create.js';
import { listOwnKeys } from './routes/keys-list.js';
import { revokeOwnKey } from './routes/keys-revoke.js';
import { rotateOwnKey } from './routes/keys-rotate.js';
import { queryLogs } from './routes/logs-query.js';
import { getLogById } from './routes/logs-get.js';
import { getStats } from './routes/stats.js';
import { openApi, openApiDocument } from './routes/openapi.js';
import { docsPage } from './routes/docs.js';
import { createThroughput } from './throughput.js';
import { countUsage } from './middleware/usage.js';
import { UsageCounter } from '@central-logger/usage';

export interface IngestDeps {
  config: IngestConfig;
  sql: Sql;
  redis: Redis;
  verifier: KeyVerifier;
  producer: LogsProducer;
  log: Logger;
  /** Tenant reads: the row-level-security role's pool (READ_DATABASE_URL) and the cursor signer. */
  reads: { readSql: Sql; cursors: CursorCodec };
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
  const doc = openApiDocument();
  router.get('/openapi.json', openApi(doc));
  router.get('/docs', docsPage(doc));
  router.post(
    '/api/v1/logs',
    authenticate(deps.verifier, 'logs:write'),
    rateLimit({ limiter: tp.limiter, limits: tp.limits, sql: deps.sql, log: deps.log }),
    backpressure(deps.redis, tp.backlog, deps.config.UNAVAILABLE_RETRY_AFTER_S),
    ingestLogs(deps.config, tp.committer, tp.metrics),
  );
  router.get('/api/v1/limits', authenticate(deps.verifier), getLimits(tp.limits, tp.limiter));
  // API keys (issue 3): heartbeat, and owner self-service
  router.post('/api/v1/heartbeat', authenticate(deps.verifier, 'logs:write'), heartbeat(deps.verifier.usage));
  router.get('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), listOwnKeys(deps.sql));
  router.post('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), createOwnKey(deps.sql, deps.config.BCRYPT_COST));
  router.delete('/api/v1/keys/:id', authenticate(deps.verifier, 'keys:manage'), revokeOwnKey(deps.sql, deps.redis));
  router.post('/api/v1/keys/:id/rotate', authenticate(deps.verifier, 'keys:manage'), rotateOwnKey(deps.sql, deps.redis, deps.config.BCRYPT_COST));
  const { readSql, cursors } = deps.reads;
  router.get('/api/v1/logs', authenticate(deps.verifier, 'logs:read'), queryLogs(readSql, cursors));
  router.get('/api/v1/logs/:id', authenticate(deps.verifier, 'logs:read'), getLogById(readSql));
  router.get('/api/v1/stats', authenticate(deps.verifier, 'logs:read'), getStats(readSql));

  app.use(requestMetrics(tp.metrics.registry));
  // usage (issue 6): outside the error middleware, so it counts every final status
  app.use(countUsage(new UsageCounter(deps.redis, deps.config.QUEUE_PREFIX), deps.log));
  app.use(errorMiddleware(deps.log));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}
