import type { Server } from 'node:http';
import { createRedis, redisTarget } from '@central-logger/redis';
import { PRODUCTION_SECRETS, requireProductionSecrets, type AdminConfig } from '@central-logger/config';
import { createSql, roleUrl } from '@central-logger/db';
import { closeServer, createLogger, createRegistry, listen, serveMetrics, type Logger } from '@central-logger/http';
import { KeyVerifier, subscribeInvalidations, verifierOptions } from '@central-logger/keys';
import { createAdminApp } from './app.js';

export interface AdminService {
  server: Server;
  /** /metrics, on METRICS_HOST:ADMIN_METRICS_PORT. */
  metricsServer: Server;
  log: Logger;
  close(): Promise<void>;
}

/** `log` replaces the process logger (tests read what would be logged). */
export async function startAdmin(config: AdminConfig, options: { log?: Logger } = {}): Promise<AdminService> {
  requireProductionSecrets(config, PRODUCTION_SECRETS.admin);
  const log = options.log ?? createLogger('admin', config.LOG_LEVEL);
  // its own role (migration 090), never the owner
  const sql = createSql(config.ADMIN_DATABASE_URL ?? roleUrl(config.DATABASE_URL, 'admin'), { max: config.DATABASE_POOL_SIZE, applicationName: 'admin' });
  // Commands wait for a (re)connection for at most 2 s instead of failing at
  // once, so sign-in works from the first request after start; a Redis outage
  // still answers 503 within 2 s rather than hanging.
  const redis = createRedis(redisTarget(config), { commandTimeout: 2_000, maxRetriesPerRequest: 1 });
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  // the admin API accepts admin keys, so it hears of revocations like ingest does
  const verifier = new KeyVerifier(sql, verifierOptions(config, sql, redis, log));
  const unsubscribe = subscribeInvalidations(redisTarget(config), verifier, (err) => log.warn({ err: err.message }, 'key invalidation subscriber error'));
  const metrics = createRegistry('admin');
  const server = await listen(createAdminApp({ config, sql, redis, log, verifier, metrics }), {
    host: config.HOST,
    port: config.ADMIN_PORT,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
  });
  const metricsServer = await serveMetrics(metrics, { host: config.METRICS_HOST, port: config.ADMIN_METRICS_PORT, token: config.METRICS_TOKEN });
  log.info({ address: server.address(), metrics: metricsServer.address() }, 'admin listening');
  return {
    server,
    metricsServer,
    log,
    async close() {
      await closeServer(server);
      await closeServer(metricsServer, 1_000);
      await unsubscribe();
      await verifier.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
