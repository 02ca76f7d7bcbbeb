import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { ConfigError, PRODUCTION_SECRETS, requireProductionSecrets, type IngestConfig } from '@central-logger/config';
import { createSql, CursorCodec, loadTenantTokenSecret, ReadRouter, readerUrl, roleUrl, signTenantsOn } from '@central-logger/db';
import { closeServer, createLogger, listen, serveMetrics, type Logger } from '@central-logger/http';
import { KeyVerifier, subscribeInvalidations, verifierOptions } from '@central-logger/keys';
import { LogsProducer, producerConnection } from '@central-logger/queue';
import { redisTarget } from '@central-logger/redis';
import { subscribeUserInvalidations, TenantTokens, tenantTokenSecret } from '@central-logger/tenant-auth';
import { createIngestApp, type IngestApp } from './app.js';

export interface IngestService {
  app: IngestApp;
  server: Server;
  /** /metrics, on METRICS_HOST:INGEST_METRICS_PORT. */
  metricsServer: Server;
  log: Logger;
  /** The key verifier, whose usage and failure buffers tests flush. */
  verifier: KeyVerifier;
  /** Ordered shutdown: stop accepting, finish in-flight requests, then close Redis and Postgres. */
  close(): Promise<void>;
}

export interface IngestOptions {
  queueName?: string;
  /** The logger (default: JSON on stdout at LOG_LEVEL); tests read the access log from theirs. */
  log?: Logger;
  /** The clock keys' expiry and the key cache read (default Date.now); tests move theirs instead of sleeping. */
  now?: () => number;
  /** The queue producer's class (default LogsProducer); bench/ingest/no-queue.ts measures the service with its queue write taken out. */
  Producer?: typeof LogsProducer;
}

export async function startIngestApi(config: IngestConfig, options: IngestOptions = {}): Promise<IngestService> {
  const log = options.log ?? createLogger('ingest-api', config.LOG_LEVEL);
  requireProductionSecrets(config, PRODUCTION_SECRETS['ingest-api']);
  const cursors = new CursorCodec(cursorSecret(config, log));
  const tokenSecret = tenantTokenSecret(config, (m) => log.warn(m));
  // its own role (migration 090); tenant reads go through the row-level-security reader role
  const sql = createSql(config.INGEST_DATABASE_URL ?? roleUrl(config.DATABASE_URL, 'ingest'), {
    max: config.DATABASE_POOL_SIZE,
    applicationName: 'ingest-api',
  });
  const redis = producerConnection(redisTarget(config));
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const producer = new (options.Producer ?? LogsProducer)(
    redis,
    config.QUEUE_PREFIX,
    {
      attempts: config.JOB_ATTEMPTS,
      backoffMs: config.JOB_BACKOFF_MS,
      timeoutMs: config.ENQUEUE_TIMEOUT_MS,
      retryAfterS: config.UNAVAILABLE_RETRY_AFTER_S,
      shards: config.QUEUE_SHARDS,
      waitReplicas: config.REDIS_WAIT_REPLICAS,
    },
    options.queueName,
  );
  producer.queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));
  const readSql = createSql(config.READ_DATABASE_URL ?? readerUrl(config.DATABASE_URL), {
    max: config.READ_DATABASE_POOL_SIZE,
    applicationName: 'ingest-api-read',
  });
  // each read transaction's tenant is signed with a secret the reader role cannot read (migration 091);
  // loaded once from the primary, it signs the standby's reads too (it is the same row there)
  const loadSecret = () => loadTenantTokenSecret(sql);
  signTenantsOn(readSql, loadSecret);
  const replicaSql = config.READ_REPLICA_URL
    ? createSql(config.READ_REPLICA_URL, { max: config.READ_REPLICA_POOL_SIZE, applicationName: 'ingest-api-replica' })
    : undefined;
  if (replicaSql) signTenantsOn(replicaSql, loadSecret);
  const router = new ReadRouter(readSql, replicaSql, {
    maxLagMs: config.READ_REPLICA_MAX_LAG_MS,
    onDown: (err) => log.warn({ err: err.message }, 'read replica unavailable: tenant reads fall back to the primary'),
    onUp: (lagMs) => log.info({ lag_ms: lagMs }, 'read replica answers again: tenant reads return to it (unless its lag is above READ_REPLICA_MAX_LAG_MS)'),
    onLagging: (lagging, lagMs) =>
      log.warn(
        { lag_ms: lagMs, max_lag_ms: config.READ_REPLICA_MAX_LAG_MS },
        lagging
          ? 'read replica lag above READ_REPLICA_MAX_LAG_MS: tenant reads go to the primary'
          : 'read replica lag back under READ_REPLICA_MAX_LAG_MS: tenant reads return to the standby',
      ),
  });
  const verifier = new KeyVerifier(sql, { ...verifierOptions(config, sql, redis, log), ...(options.now ? { now: options.now } : {}) });
  const unsubscribe = subscribeInvalidations(
    redisTarget(config),
    verifier,
    (err) => log.warn({ err: err.message }, 'key invalidation subscriber error'),
    () => log.info('key invalidations subscribed'),
  );

  // tenant users' tokens: the user's active state is cached like a key and forgotten on the same channel
  const tokens = new TenantTokens(sql, tokenSecret, { ttlMs: config.KEY_CACHE_TTL_MS, staleMaxMs: config.KEY_STATE_STALE_MAX_MS });
  const unsubscribeUsers = subscribeUserInvalidations(redisTarget(config), tokens, (err) =>
    log.warn({ err: err.message }, 'user invalidation subscriber error'),
  );

  const app = createIngestApp({ config, sql, redis, verifier, producer, log, reads: { readSql, cursors, router }, tokens });
  const server = await listen(app.listener, {
    host: config.HOST,
    port: config.INGEST_PORT,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
  });
  const metricsServer = await serveMetrics(app.registry, { host: config.METRICS_HOST, port: config.INGEST_METRICS_PORT, token: config.METRICS_TOKEN });
  log.info({ address: server.address(), metrics: metricsServer.address() }, 'ingest-api listening');

  return {
    app,
    server,
    metricsServer,
    log,
    verifier,
    async close() {
      // live tails never finish by themselves: end them first (clients resume elsewhere by cursor)
      await app.tail.close();
      await closeServer(server);
      await closeServer(metricsServer, 1_000);
      await unsubscribe();
      await unsubscribeUsers();
      await verifier.close();
      // the last requests' usage, counted as they were answered, reaches Redis before it closes
      await app.usage.settled();
      // leased rate-limit tokens this process did not spend go back to the other processes
      await app.limiter.close();
      await producer.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
      await readSql.end({ timeout: 5 });
      router.close();
      await replicaSql?.end({ timeout: 5 });
    },
  };
}

/** Page cursors must verify on every process, so production needs one shared secret. */
function cursorSecret(config: IngestConfig, log: Logger): string {
  if (config.CURSOR_SECRET) return config.CURSOR_SECRET;
  if (config.NODE_ENV === 'production') throw new ConfigError(['CURSOR_SECRET: required in production (at least 32 characters, the same on every ingest-api)']);
  log.warn('CURSOR_SECRET is not set: page cursors work only on this process until it restarts');
  return randomBytes(32).toString('base64url');
}
