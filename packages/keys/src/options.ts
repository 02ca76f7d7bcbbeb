import type { RedisClient as Redis } from '@central-logger/redis';
import type { Logger } from 'pino';
import type { BaseConfig, HttpConfig } from '@central-logger/config';
import type { Sql } from '@central-logger/db';
import { FailureLimiter } from './limiter.js';
import { keyLookupSecret } from './lookup-secret.js';
import { AuthFailureLog } from './failures.js';
import { UsageTracker } from './usage.js';
import type { KeyVerifierOptions } from './verifier.js';

/** The settings a key verifier is built from; the ingest and admin configs both hold them. */
export type VerifierConfig = Pick<
  HttpConfig & BaseConfig,
  | 'KEY_CACHE_TTL_MS'
  | 'KEY_CACHE_MAX_ENTRIES'
  | 'KEY_STATE_STALE_MAX_MS'
  | 'BCRYPT_COST'
  | 'NODE_ENV'
  | 'KEY_LOOKUP_SECRET'
  | 'AUTH_FAILURE_FLUSH_MS'
  | 'KEY_USAGE_FLUSH_MS'
  | 'AUTH_FAILURE_LIMIT'
  | 'AUTH_PREFIX_FAILURE_LIMIT'
  | 'AUTH_FAILURE_WINDOW_SECONDS'
  | 'AUTH_INFLIGHT_PER_PREFIX'
  | 'AUTH_INFLIGHT_PER_ADDRESS'
  | 'AUTH_HASH_CONCURRENCY'
  | 'QUEUE_PREFIX'
>;

/** A process's key verifier settings: cache TTL, failure limits and recording, usage flushing. */
export function verifierOptions(config: VerifierConfig, sql: Sql, redis: Redis, log: Logger): KeyVerifierOptions {
  const onError = (err: Error) => log.warn({ err: err.message }, 'key bookkeeping failed; will retry');
  return {
    ttlMs: config.KEY_CACHE_TTL_MS,
    maxEntries: config.KEY_CACHE_MAX_ENTRIES,
    staleMaxMs: config.KEY_STATE_STALE_MAX_MS,
    inflightPerPrefix: config.AUTH_INFLIGHT_PER_PREFIX,
    inflightPerAddress: config.AUTH_INFLIGHT_PER_ADDRESS,
    hashConcurrency: config.AUTH_HASH_CONCURRENCY,
    bcryptCost: config.BCRYPT_COST,
    lookupSecret: keyLookupSecret(config, (message) => log.warn(message)),
    failures: new AuthFailureLog(sql, { flushMs: config.AUTH_FAILURE_FLUSH_MS, onError }),
    usage: new UsageTracker(sql, { flushMs: config.KEY_USAGE_FLUSH_MS, onError }),
    limiter: new FailureLimiter(redis, {
      limit: config.AUTH_FAILURE_LIMIT,
      prefixLimit: config.AUTH_PREFIX_FAILURE_LIMIT,
      windowSeconds: config.AUTH_FAILURE_WINDOW_SECONDS,
      keyPrefix: config.QUEUE_PREFIX,
    }),
    onError,
    // the prefix is the public part of a key: safe to log, and what alerts group by
    onFailure: (f) => log.debug({ address: f.address, key_prefix: f.keyPrefix, reason: f.reason }, 'authentication failed'),
  };
}
