import type { RequestListener } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { IngestConfig } from '@central-logger/config';
import type { CursorCodec, Sql } from '@central-logger/db';
import { API_ANSWER, errorMiddleware, health, noStoreUnder, randomId, ready, refuseNulInUrl, RequestCounters, requestMetrics, type Logger } from '@central-logger/http';
import type { KeyVerifier } from '@central-logger/keys';
import type { LogsProducer } from '@central-logger/queue';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { acceptConsoleSessions, acceptUserTokens, authenticate } from './middleware/authenticate.js';
import { ConsoleSessions, dummyPasswordHash, LoginLimiter, TenantTokens, tenantTokenSecret } from '@central-logger/tenant-auth';
import { login } from './routes/auth-login.js';
import { whoAmI } from './routes/auth-me.js';
import { acceptInviteRoute, createInviteRoute, listInvitesRoute } from './routes/auth-invites.js';
import { getLimits } from './routes/limits.js';
import { INGEST_ROUTE, ingestLogs, isIngestRequest, servedBeforeKoa } from './routes/logs-ingest.js';
import { ingestOtlpLogs, isOtlpRequest, OTLP_ROUTE, otlpFailedOutside, otlpServedBeforeKoa } from './routes/otlp-logs.js';
import { heartbeat } from './routes/heartbeat.js';
import { createOwnKey } from './routes/keys-create.js';
import { listOwnKeys } from './routes/keys-list.js';
import { revokeOwnKey } from './routes/keys-revoke.js';
import { rotateOwnKey } from './routes/keys-rotate.js';
import { queryLogs } from './routes/logs-query.js';
import { getLogById } from './routes/logs-get.js';
import { getLogHistogram } from './routes/logs-histogram.js';
import { getStats } from './routes/stats.js';
import { openApi, openApiDocument } from './routes/openapi.js';
import { docsPage } from './routes/docs.js';
import { createSession, endSession } from './routes/auth-session.js';
import { changeUserRoleRoute, deactivateUserRoute, listUsersRoute } from './routes/users.js';
import { CONSOLE_PATHS, consoleFile } from './routes/console.js';
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
  /** Tenant users' access tokens (issue 14); the service passes the one its invalidation subscriber feeds. Default: one without a subscriber. */
  tokens?: TenantTokens;
}

/** The public API: the Koa app, and the request listener that serves it with the ingest route in front. */
export interface IngestApp {
  koa: Koa;
  listener: RequestListener;
  /** What /metrics shows, on its own listener (serveMetrics), not the public port. */
  registry: Registry;
}

/** The public API: wiring only; the logic lives in packages/. */
export function createIngestApp(deps: IngestDeps): IngestApp {
  const koa = new Koa();
  koa.proxy = deps.config.TRUST_PROXY;
  koa.silent = true;
  const tp = createThroughput(deps);
  const requests = new RequestCounters(tp.metrics.registry);
  const usage = new UsageCounter(deps.redis, deps.config.QUEUE_PREFIX);

  // POST /api/v1/logs, the hot path, is served without Koa (see ingestLogs)
  const ingestDeps = {
    config: deps.config,
    verifier: deps.verifier,
    admission: { redis: deps.redis, backlog: tp.backlog, retryAfterS: deps.config.UNAVAILABLE_RETRY_AFTER_S, limiter: tp.limiter, limits: tp.limits, sql: deps.sql, log: deps.log, onBulkRefused: tp.countBulkRefusal },
    committers: tp.committers,
    metrics: tp.metrics,
    requests,
    usage,
    log: deps.log,
  };
  const postLogs = ingestLogs(ingestDeps);
  // POST /v1/logs (OTLP/HTTP, issue 15): another decoder in front of the same pipeline, also served without Koa
  const postOtlpLogs = ingestOtlpLogs(ingestDeps);

  const tokens = deps.tokens ?? new TenantTokens(deps.sql, tenantTokenSecret(deps.config), { ttlMs: deps.config.KEY_CACHE_TTL_MS });
  acceptUserTokens(deps.verifier, tokens);
  const limits = { perIp: deps.config.TENANT_LOGIN_MAX_FAILURES_PER_IP, perUser: deps.config.TENANT_LOGIN_MAX_FAILURES_PER_USER, windowMs: deps.config.TENANT_LOGIN_WINDOW_MS };
  const signInDeps = { sql: deps.sql, tokens, limiter: new LoginLimiter(deps.redis, deps.config.QUEUE_PREFIX, limits, 'tenant-login'), dummyHash: dummyPasswordHash(deps.config.BCRYPT_COST) };
  signInDeps.dummyHash.catch(() => {}); // awaited (and rethrown) by the first sign-in with an unknown name
  // the web console's sessions: a cookie on every tenant route, the state in Redis
  const sessions = new ConsoleSessions(deps.redis, deps.config.QUEUE_PREFIX, deps.config.CONSOLE_SESSION_TTL_MS);
  acceptConsoleSessions(deps.verifier, sessions);
  const secureCookies = deps.config.NODE_ENV === 'production';

  const router = new Router();
  router.get('/health', health);
  router.get('/ready', ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }));
  const doc = openApiDocument();
  router.get('/openapi.json', openApi(doc));
  router.get('/docs', docsPage(doc));
  // the tenant console (a page and its built script and style)
  for (const path of CONSOLE_PATHS) router.get(path, consoleFile);
  router.post(INGEST_ROUTE.path, servedBeforeKoa);
  router.post(OTLP_ROUTE.path, otlpServedBeforeKoa);
  router.get('/api/v1/limits', authenticate(deps.verifier), getLimits(tp.limits, tp.limiter));
  // API keys (issue 3): heartbeat, and owner self-service
  router.post('/api/v1/heartbeat', authenticate(deps.verifier, 'logs:write'), heartbeat(deps.verifier.usage));
  router.get('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), listOwnKeys(deps.sql));
  router.post('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), createOwnKey(deps.sql, deps.config.BCRYPT_COST));
  router.delete('/api/v1/keys/:id', authenticate(deps.verifier, 'keys:manage'), revokeOwnKey(deps.sql, deps.redis));
  router.post('/api/v1/keys/:id/rotate', authenticate(deps.verifier, 'keys:manage'), rotateOwnKey(deps.sql, deps.redis, deps.config.BCRYPT_COST));
  // tenant users (issue 14): sign-in, who am I, and seed 004's name for creating a key
  router.post('/api/v1/auth/login', login(signInDeps));
  router.get('/api/v1/auth/me', authenticate(deps.verifier), whoAmI);
  router.post('/api/v1/auth/invites', authenticate(deps.verifier, 'keys:manage'), createInviteRoute(deps.sql));
  router.get('/api/v1/auth/invites', authenticate(deps.verifier, 'keys:manage'), listInvitesRoute(deps.sql));
  router.post('/api/v1/auth/invites/accept', acceptInviteRoute(deps.sql, deps.config.BCRYPT_COST));
  router.post('/api/v1/auth/session', createSession({ ...signInDeps, verifier: deps.verifier, sessions, secure: secureCookies }));
  router.delete('/api/v1/auth/session', endSession(sessions, secureCookies));
  router.get('/api/v1/users', authenticate(deps.verifier, 'keys:manage'), listUsersRoute(deps.sql));
  router.patch('/api/v1/users/:id', authenticate(deps.verifier, 'keys:manage'), changeUserRoleRoute(deps.sql, deps.redis));
  router.delete('/api/v1/users/:id', authenticate(deps.verifier, 'keys:manage'), deactivateUserRoute(deps.sql, deps.redis));
  router.post('/api/v1/auth/api-key', authenticate(deps.verifier, 'keys:manage'), createOwnKey(deps.sql, deps.config.BCRYPT_COST));
  const { readSql, cursors } = deps.reads;
  router.get('/api/v1/logs', authenticate(deps.verifier, 'logs:read'), queryLogs(readSql, cursors));
  router.get('/api/v1/logs/histogram', authenticate(deps.verifier, 'logs:read'), getLogHistogram(readSql));
  router.get('/api/v1/logs/:id', authenticate(deps.verifier, 'logs:read'), getLogById(readSql));
  router.get('/api/v1/stats', authenticate(deps.verifier, 'logs:read'), getStats(readSql));

  koa.use(requestMetrics(requests));
  // usage (issue 6): outside the error middleware, so it counts every final status
  koa.use(countUsage(usage, deps.log));
  koa.use(errorMiddleware(deps.log));
  // tenant answers (logs, stats, keys, limits) and their errors are never cached
  koa.use(noStoreUnder('/api/'));
  koa.use(refuseNulInUrl);
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: false }));

  const koaListener = koa.callback();
  return {
    koa,
    registry: tp.metrics.registry,
    listener(req, res) {
      if (isOtlpRequest(req)) return void postOtlpLogs(req, res).catch((err: unknown) => otlpFailedOutside(err, res, deps.log));
      if (!isIngestRequest(req)) return void koaListener(req, res);
      postLogs(req, res).catch((err: unknown) => {
        // ingestLogs answers every failure itself; this is a bug's last line
        deps.log.error({ err: (err as Error).message }, 'ingest request failed outside its handler');
        if (!res.headersSent) res.writeHead(500, { ...API_ANSWER, 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: 'internal_error', message: 'Internal server error', request_id: randomId('req') }));
        else res.destroy();
      });
    },
  };
}
