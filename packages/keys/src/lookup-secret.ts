import { ConfigError, type BaseConfig } from '@central-logger/config';

/**
 * The lookup secret development and test processes share when
 * KEY_LOOKUP_SECRET is unset: stable, so the CLI's import and the servers
 * agree, and refused in production, where it would be public knowledge.
 */
export const DEV_KEY_LOOKUP_SECRET = 'central-logger development key lookup secret; never in production';

/**
 * KEY_LOOKUP_SECRET, which legacy keys' lookup ids are computed under.
 * Production without it (or with the development value) is a ConfigError:
 * the lookup ids would again be computable from the key alone.
 */
export function keyLookupSecret(config: Pick<BaseConfig, 'NODE_ENV' | 'KEY_LOOKUP_SECRET'>, warn: (message: string) => void = () => {}): string {
  const secret = config.KEY_LOOKUP_SECRET;
  if (config.NODE_ENV === 'production') {
    if (!secret) throw new ConfigError(['KEY_LOOKUP_SECRET: required in production (at least 32 characters, the same on every ingest-api, admin and CLI)']);
    if (secret === DEV_KEY_LOOKUP_SECRET) throw new ConfigError(['KEY_LOOKUP_SECRET: the development value is public; set a random one in production']);
    return secret;
  }
  if (secret) return secret;
  warn('KEY_LOOKUP_SECRET is not set: legacy keys are looked up under the public development secret (required in production)');
  return DEV_KEY_LOOKUP_SECRET;
}
