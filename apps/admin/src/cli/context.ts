import { baseSchema, loadConfig, type BaseConfig } from '@central-logger/config';
import { createSql, type Sql } from '@central-logger/db';
import { userInfo } from 'node:os';
import { Redis } from 'ioredis';

/** What every CLI command gets: config, a small pool, and Redis opened on demand. */
export interface CliContext {
  config: BaseConfig;
  /** Who the audit log names for what this command changes: `cli:<OS user>`. */
  actor: string;
  sql: Sql;
  redis(): Redis;
  out(line?: string): void;
  close(): Promise<void>;
}

export function createCliContext(): CliContext {
  const config = loadConfig(baseSchema);
  const sql = createSql(config.DATABASE_URL, { max: 2, applicationName: 'central-logger-cli' });
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
