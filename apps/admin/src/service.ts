import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import type { AdminConfig } from '@central-logger/config';
import { createSql } from '@central-logger/db';
import { closeServer, createLogger, listen, type Logger } from '@central-logger/http';
import { createAdminApp } from './app.js';

export interface AdminService {
  server: Server;
  log: Logger;
  close(): Promise<void>;
}

export async function startAdmin(config: AdminConfig): Promise<AdminService> {
  const log = createLogger('admin', config.LOG_LEVEL);
  const sql = createSql(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE, applicationName: 'admin' });
  const redis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const server = await listen(createAdminApp({ config, sql, redis, log }), {
    host: config.HOST,
    port: config.ADMIN_PORT,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    headersTimeoutMs: config.HEADERS_TIMEOUT_MS,
  });
  log.info({ address: server.address() }, 'admin listening');
  return {
    server,
    log,
    async close() {
      await closeServer(server);
      redis.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
