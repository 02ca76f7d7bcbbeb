import { cliSchema, loadConfig, type CliConfig } from '@central-logger/config';
import { createSql, roleUrl, type Sql } from '@central-logger/db';
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';

/** What every CLI command gets: config, a small pool, and Redis opened on demand. */
export interface CliContext {
  config: CliConfig;
  /** Who the audit log names for what this command changes: `cli:<OS user>`. */
  actor: string;
  sql: Sql;
  redis(): Redis;
  out(line?: string): void;
  close(): Promise<void>;
}

/** Every command connects as central_logger_admin (ADMIN_DATABASE_URL); `migrate` alone as the owner (`asOwner`). */
export function createCliContext(options: { asOwner?: boolean } = {}): CliContext {
  const config = loadConfig(cliSchema);
  const url = options.asOwner ? config.DATABASE_URL : (config.ADMIN_DATABASE_URL ?? roleUrl(config.DATABASE_URL, 'admin'));
  const sql = createSql(url, { max: 2, applicationName: options.asOwner ? 'central-logger-migrate' : 'central-logger-cli' });
  let redis: Redis | undefined;
  return {
    config,
    actor: `cli:${userInfo().username}`,
    sql,
    redis() {
      redis ??= new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
      redis.on('error', () => {});
      return redis;
    },
    out(line = '') {
      process.stdout.write(`${line}\n`);
    },
    async close() {
      redis?.disconnect();
      await sql.end({ timeout: 5 });
    },
  };
}
