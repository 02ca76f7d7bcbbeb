import { cliSchema, loadEnvConfig, type CliConfig } from '@central-logger/config';
import { createSql, describeDatabase, roleUrl, type Sql } from '@central-logger/db';
import { userInfo } from 'node:os';
import { createRedis, redisTarget, type RedisClient as Redis } from '@central-logger/redis';

/** What every CLI command gets: config, a small pool, and Redis opened on demand. */
export interface CliContext {
  config: CliConfig;
  /** The database this command uses, for people (describeDatabase: never its password). */
  database: string;
  /** Who the audit log names for what this command changes: `cli:<OS user>`. */
  actor: string;
  sql: Sql;
  redis(): Redis;
  out(line?: string): void;
  close(): Promise<void>;
}

/**
 * How a command runs (main.ts): `asOwner` connects as the owner (DATABASE_URL),
 * as `migrate` alone does; `writes` prints the database first, so a key or a
 * user made by hand never lands unnoticed in another database than the one
 * the services use.
 */
export interface RunOptions {
  asOwner?: boolean;
  writes?: boolean;
}

/** What registers a command's work: runs `fn` with a fresh context, one line on failure. */
export type Run = (fn: (ctx: CliContext) => Promise<void>, options?: RunOptions) => Promise<void>;

/** Every command connects as central_logger_admin (ADMIN_DATABASE_URL); `migrate` alone as the owner (`asOwner`). */
export function createCliContext(options: { asOwner?: boolean } = {}): CliContext {
  const config = loadEnvConfig(cliSchema);
  const url = options.asOwner ? config.DATABASE_URL : (config.ADMIN_DATABASE_URL ?? roleUrl(config.DATABASE_URL, 'admin'));
  const sql = createSql(url, { max: 2, applicationName: options.asOwner ? 'central-logger-migrate' : 'central-logger-cli' });
  let redis: Redis | undefined;
  return {
    config,
    database: describeDatabase(url),
    actor: `cli:${userInfo().username}`,
    sql,
    redis() {
      redis ??= createRedis(redisTarget(config), { maxRetriesPerRequest: 1, connectTimeout: 2_000, retryStrategy: () => null });
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
