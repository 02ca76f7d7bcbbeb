import type { AdminConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import type { Logger } from '@central-logger/http';
import type { KeyVerifier } from '@central-logger/keys';
import type { RedisClient as Redis } from '@central-logger/redis';
import type { LoginLimiter } from '../auth/login-limiter.js';

/** What the admin routes share; built once by createAdminApp. */
export interface RouteDeps {
  config: AdminConfig;
  sql: Sql;
  redis: Redis;
  log: Logger;
  verifier: KeyVerifier;
  limiter: LoginLimiter;
  /** Compared against when the username is unknown, so that costs a bcrypt compare too. */
  dummyHash: Promise<string>;
  sessionTtlMs: number;
}
