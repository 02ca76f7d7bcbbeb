import type { Server } from 'node:http';
import type { IngestConfig } from '@central-logger/config';
import { createSql } from '@central-logger/db';
import { closeServer, createLogger, listen, type Logger } from '@central-logger/http';
import { KeyVerifier, subscribeInvalidations } from '@central-logger/keys';
import { LogsProducer, producerConnection } from '@central-logger/queue';
import { createIngestApp } from './app.js';

export interface IngestService {
  server: Server;
  log: Logger;
  /** Ordered shutdown: stop accepting, finish in-flight requests, then close Redis and Postgres. */
  close(): Promise<void>;
}

export async function startIngestApi(config: IngestConfig, options: { queueName?: string } = {}): Promise<IngestService> {
  const log = createLogger('ingest-api', config.LOG_LEVEL);
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'ingest-api' });
  const redis = producerConnection(config.REDIS_URL);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const producer = new LogsProducer(redis, config.QUEUE_PREFIX, { attempts: config.JOB_ATTEMPTS, backoffMs: config.JOB_BACKOFF_MS, timeoutMs: config.ENQUEUE_TIMEOUT_MS, retryAfterS: config.UNAVAILABLE_RETRY_AFTER_S }, options.queueName);
  producer.queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'));
  const verifier = new KeyVerifier(sql, { ttlMs: config.KEY_CACHE_TTL_MS });
  const unsubscribe = subscribeInvalidations(config.REDIS_URL, verifier, (err) => log.warn({ err: err.message }, 'key invalidation subscriber error'));

  const app = createIngestApp({ config, sql, redis, verifier, producer, log });
  const server = await listen(app, {
    host: config.HOST,
    port: config.INGEST_PORT,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
  });
  log.info({ address: server.address() }, 'ingest-api listening');

  return {
    server,
    log,
    async close() {
      await closeServer(server);
      await unsubscribe();
      await producer.close();
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
