import { sharedSecret, type BaseConfig } from '@central-logger/config';

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
  return sharedSecret(config, 'KEY_LOOKUP_SECRET', DEV_KEY_LOOKUP_SECRET, "legacy keys' lookup ids", warn);
}
