import { sharedSecret } from '@central-logger/config';

/** The token secret development and test processes share when TENANT_TOKEN_SECRET is unset: stable across restarts and processes, refused in production. */
export const DEV_TENANT_TOKEN_SECRET = 'central-logger development tenant token secret; never in production';

/**
 * TENANT_TOKEN_SECRET, which tenant access tokens are signed with. Production
 * without it (or with the development value) is a ConfigError: anyone could
 * sign a token for any tenant.
 */
export function tenantTokenSecret(config: { NODE_ENV: string; TENANT_TOKEN_SECRET?: string | undefined }, warn: (message: string) => void = () => {}): string {
  return sharedSecret(config, 'TENANT_TOKEN_SECRET', DEV_TENANT_TOKEN_SECRET, 'tenant access tokens', warn);
}
