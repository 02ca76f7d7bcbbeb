import { adminSchema, ConfigError, loadEnvConfig } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startAdmin } from './service.js';

try {
  const config = loadEnvConfig(adminSchema);
  const service = await startAdmin(config);
  onShutdown(service.log, service.close, config.SHUTDOWN_TIMEOUT_MS);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `admin failed to start: ${(err as Error).message}`);
  process.exit(1);
}
