import { ConfigError } from '@central-logger/config';

/** The token secret development and test processes share when TENANT_TOKEN_SECRET is unset: stable across restarts and processes, refused in production. */
export const DEV_TENANT_TOKEN_SECRET = 'central-logger development tenant token secret; never in production';

/**
 * TENANT_TOKEN_SECRET, which tenant access tokens are signed with. Production
 * without it (or with the development value) is a ConfigError: anyone could
 * sign a token for any tenant.
 */
export function tenantTokenSecret(config: { NODE_ENV: string; TENANT_TOKEN_SECRET?: string | undefined }, warn: (message: string) => void = () => {}): string {
  const secret = config.TENANT_TOKEN_SECRET;
  if (config.NODE_ENV === 'production') {
    if (!secret) throw new ConfigError(['TENANT_TOKEN_SECRET: required in production (at least 32 random characters, the same on every ingest-api)']);
    if (secret === DEV_TENANT_TOKEN_SECRET) throw new ConfigError(['TENANT_TOKEN_SECRET: the development value is public; set a random one in production']);
    return secret;
  }
  if (secret) return secret;
  warn('TENANT_TOKEN_SECRET is not set: tenant access tokens are signed with the public development secret (required in production)');
  return DEV_TENANT_TOKEN_SECRET;
}
