import type { RequestListener } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { IngestConfig } from '@central-logger/config';
import { isUnavailable, ReadRouter, type CursorCodec, type Sql } from '@central-logger/db';
import { health, koaLifecycle, ready, refuseNulInUrl, RequestCounters, RequestLifecycle, serveRaw, trustProxy, type Logger } from '@central-logger/http';
import type { KeyVerifier, Principal } from '@central-logger/keys';
import type { LogsProducer } from '@central-logger/queue';
import { redisTarget, type RedisClient as Redis } from '@central-logger/redis';
import type { Registry } from 'prom-client';
import { acceptConsoleSessions, acceptUserTokens, authenticate, forgetCredentials } from './middleware/authenticate.js';
import { KEY_INVALIDATION_CHANNEL } from '@central-logger/keys';
import { TailHub } from '@central-logger/tail';
import { tailLogs } from './routes/logs-tail.js';
import { ConsoleSessions, dummyPasswordHash, LoginLimiter, TenantTokens, tenantTokenSecret } from '@central-logger/tenant-auth';
import { login } from './routes/auth-login.js';
import { whoAmI } from './routes/auth-me.js';
import { acceptInviteRoute, createInviteRoute, listInvitesRoute } from './routes/auth-invites.js';
import { getLimits } from './routes/limits.js';
import { INGEST_ROUTE, ingestLogs, isIngestRequest, servedBeforeKoa } from './routes/logs-ingest.js';
import { ingestOtlpLogs, isOtlpRequest, OTLP_ROUTE, otlpServedBeforeKoa } from './routes/otlp-logs.js';
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
import { watchReplica } from './metrics.js';
import { replicaReadiness } from './replica-read.js';
import { countUsage } from './middleware/usage.js';
import { UsageCounter } from '@central-logger/usage';
import type { RateLimiter } from '@central-logger/limits';

export interface IngestDeps {
  config: IngestConfig;
  sql: Sql;
  redis: Redis;
  verifier: KeyVerifier;
  producer: LogsProducer;
  log: Logger;
  /**
   * Tenant reads: the row-level-security role's pool on the primary (READ_DATABASE_URL), the cursor
   * signer, and where reads that may lag go (the standby of READ_REPLICA_URL; default: the primary pool).
   */
  reads: { readSql: Sql; cursors: CursorCodec; router?: ReadRouter };
  /** Tenant users' access tokens; the service passes the one its invalidation subscriber feeds. Default: one without a subscriber. */
  tokens?: TenantTokens;
  /** The live tails of this process. Default: one made from config, redis and reads. */
  tail?: TailHub;
}

/** The public API: the Koa app, and the request listener that serves it with the ingest route in front. */
export interface IngestApp {
  koa: Koa;
  listener: RequestListener;
  /** What /metrics shows, on its own listener (serveMetrics), not the public port. */
  registry: Registry;
  /** The live tails: the service ends them before closing the server (they never finish on their own). */
  tail: TailHub;
  /** Per-key request counters; `settled()` once what was counted has reached Redis. */
  usage: UsageCounter;
  /** The ingest rate limits; `close()` gives this process's unspent leases back. */
  limiter: RateLimiter;
}

/** The public API: wiring only; the logic lives in packages/. */
export function createIngestApp(deps: IngestDeps): IngestApp {
  const koa = new Koa();
  trustProxy(koa, deps.config);
  koa.silent = true;
  const tp = createThroughput(deps);
  const usage = new UsageCounter(deps.redis, deps.config.QUEUE_PREFIX, Date.now, deps.config.USAGE_FLUSH_MS);
  // one lifecycle for every answer, Koa's and the raw routes': request id, logger, error answer, metrics, usage (outside /api/v1 only the OTLP route counts), access log
  const lifecycle = new RequestLifecycle<Principal>({
    log: deps.log,
    counters: new RequestCounters(tp.metrics.registry),
    usage: countUsage(usage, deps.log, (path) => path.startsWith('/api/v1/') || path === OTLP_ROUTE.path),
    // tenant answers (logs, stats, keys, limits) and their errors are never cached
    noStoreUnder: '/api/',
    // Postgres unreachable (the primary, and the standby too when there is one): 503 unavailable, not 500
    unavailable: isUnavailable,
    unavailableRetryAfterS: deps.config.UNAVAILABLE_RETRY_AFTER_S,
  });

  // POST /api/v1/logs, the hot path, is served without Koa (see ingestLogs)
  const ingestDeps = {
    config: deps.config,
    verifier: deps.verifier,
    admission: {
      redis: deps.redis,
      backlog: tp.backlog,
      retryAfterS: deps.config.UNAVAILABLE_RETRY_AFTER_S,
      limiter: tp.limiter,
      limits: tp.limits,
      sql: deps.sql,
      log: deps.log,
      onBulkRefused: tp.countBulkRefusal,
    },
    committers: tp.committers,
    metrics: tp.metrics,
    log: deps.log,
    bodies: tp.bodies,
  };
  const postLogs = serveRaw(lifecycle, INGEST_ROUTE, ingestLogs(ingestDeps));
  // POST /v1/logs (OTLP/HTTP, for OpenTelemetry SDKs and Collectors): another decoder in front of the same pipeline, also served without Koa
  const postOtlpLogs = serveRaw(lifecycle, OTLP_ROUTE, ingestOtlpLogs(ingestDeps));

  const tokens =
    deps.tokens ??
    new TenantTokens(deps.sql, tenantTokenSecret(deps.config), { ttlMs: deps.config.KEY_CACHE_TTL_MS, staleMaxMs: deps.config.KEY_STATE_STALE_MAX_MS });
  acceptUserTokens(deps.verifier, tokens);
  const limits = {
    perIp: deps.config.TENANT_LOGIN_MAX_FAILURES_PER_IP,
    perUser: deps.config.TENANT_LOGIN_MAX_FAILURES_PER_USER,
    windowMs: deps.config.TENANT_LOGIN_WINDOW_MS,
  };
  const signInDeps = {
    sql: deps.sql,
    tokens,
    limiter: new LoginLimiter(deps.redis, deps.config.QUEUE_PREFIX, limits, 'tenant-login'),
    dummyHash: dummyPasswordHash(deps.config.BCRYPT_COST),
  };
  signInDeps.dummyHash.catch(() => {}); // awaited (and rethrown) by the first sign-in with an unknown name
  // the web console's sessions: a cookie on every tenant route, the state in Redis
  const sessions = new ConsoleSessions(deps.redis, deps.config.QUEUE_PREFIX, deps.config.CONSOLE_SESSION_TTL_MS);
  acceptConsoleSessions(deps.verifier, sessions);
  const secureCookies = deps.config.NODE_ENV === 'production';

  const router = new Router();
  router.get('/health', health);
  const { readSql, cursors } = deps.reads;
  // list, export, stats, histogram and tail catch-up may be served by the standby; a lookup by id stays on the primary
  const reads = deps.reads.router ?? new ReadRouter(readSql);
  router.get(
    '/ready',
    ready({ postgres: () => deps.sql`select 1`, redis: () => deps.redis.ping() }, () => replicaReadiness(reads)),
  );
  const doc = openApiDocument();
  router.get('/openapi.json', openApi(doc));
  router.get('/docs', docsPage(doc));
  // the tenant console (a page and its built script and style)
  for (const path of CONSOLE_PATHS) router.get(path, consoleFile);
  router.post(INGEST_ROUTE.path, servedBeforeKoa);
  router.post(OTLP_ROUTE.path, otlpServedBeforeKoa);
  router.get(
    '/api/v1/limits',
    authenticate(deps.verifier),
    getLimits(tp.limits, tp.limiter, deps.sql, {
      maxKeys: deps.config.MAX_KEYS_PER_CLIENT,
      maxTailsPerKey: deps.config.MAX_TAILS_PER_KEY,
      maxTailsPerClient: deps.config.MAX_TAILS_PER_CLIENT,
    }),
  );
  // API keys: heartbeat, and owner self-service
  router.post('/api/v1/heartbeat', authenticate(deps.verifier, 'logs:write'), heartbeat(deps.verifier.usage));
  router.get('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), listOwnKeys(deps.sql));
  router.post('/api/v1/keys', authenticate(deps.verifier, 'keys:manage'), createOwnKey(deps.sql, deps.config.BCRYPT_COST, deps.config.MAX_KEYS_PER_CLIENT));
  router.delete('/api/v1/keys/:id', authenticate(deps.verifier, 'keys:manage'), revokeOwnKey(deps.sql, deps.redis));
  router.post(
    '/api/v1/keys/:id/rotate',
    authenticate(deps.verifier, 'keys:manage'),
    rotateOwnKey(deps.sql, deps.redis, deps.config.BCRYPT_COST, deps.config.MAX_KEYS_PER_CLIENT),
  );
  // tenant users: sign-in, who am I, and /api/v1/auth/api-key, the name the first tenant API gave key creation (kept for its callers)
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
  router.post(
    '/api/v1/auth/api-key',
    authenticate(deps.verifier, 'keys:manage'),
    createOwnKey(deps.sql, deps.config.BCRYPT_COST, deps.config.MAX_KEYS_PER_CLIENT),
  );
  watchReplica(tp.metrics.registry, reads);
  router.get('/api/v1/logs', authenticate(deps.verifier, 'logs:read'), queryLogs(reads, cursors));
  const tail =
    deps.tail ??
    new TailHub({
      redis: deps.redis,
      redisTarget: redisTarget(deps.config),
      prefix: deps.config.QUEUE_PREFIX,
      readSql,
      router: reads,
      cursors,
      maxPerKey: deps.config.MAX_TAILS_PER_KEY,
      maxPerClient: deps.config.MAX_TAILS_PER_CLIENT,
      heartbeatMs: deps.config.TAIL_HEARTBEAT_MS,
      stallMs: deps.config.TAIL_STALL_MS,
      bufferBytes: deps.config.TAIL_BUFFER_BYTES,
      invalidations: { channel: KEY_INVALIDATION_CHANNEL, forget: (what) => forgetCredentials(deps.verifier, what) },
      onError: (err) => deps.log.warn({ err: err.message }, 'live tail error'),
    });
  router.get('/api/v1/logs/tail', authenticate(deps.verifier, 'logs:read'), tailLogs(tail, deps.verifier));
  router.get('/api/v1/logs/histogram', authenticate(deps.verifier, 'logs:read'), getLogHistogram(reads));
  router.get('/api/v1/logs/:id', authenticate(deps.verifier, 'logs:read'), getLogById(readSql));
  router.get('/api/v1/stats', authenticate(deps.verifier, 'logs:read'), getStats(reads));

  koa.use(koaLifecycle(lifecycle));
  koa.use(refuseNulInUrl);
  koa.use(router.routes());
  koa.use(router.allowedMethods({ throw: false }));

  const koaListener = koa.callback();
  return {
    koa,
    registry: tp.metrics.registry,
    usage,
    limiter: tp.limiter,
    tail,
    listener(req, res) {
      // a raw route's handler that throws instead of answering is answered by the lifecycle too (serveRaw)
      if (isIngestRequest(req)) postLogs(req, res);
      else if (isOtlpRequest(req)) postOtlpLogs(req, res);
      else void koaListener(req, res);
    },
  };
}
