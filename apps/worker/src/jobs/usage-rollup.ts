import type { RedisClient as Redis } from '@central-logger/redis';
import type { Sql } from '@central-logger/db';
import type { Logger } from '@central-logger/http';
import { rollUpUsage, type RollupOptions, type RollupResult } from '@central-logger/usage';

/** The usage roll-up job: Redis hour counters → usage_hourly and key_addresses, absolute values, safe to re-run. */
export function usageRollup(sql: Sql, redis: Redis, log: Logger, options: RollupOptions) {
  return async function runUsageRollup(): Promise<RollupResult> {
    const result = await rollUpUsage(sql, redis, options);
    log.debug(result, 'usage rolled up');
    return result;
  };
}
