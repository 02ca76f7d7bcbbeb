import { adminSchema, ConfigError, loadConfig } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startAdmin } from './service.js';

try {
  const service = await startAdmin(loadConfig(adminSchema));
  onShutdown(service.log, service.close);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `admin failed to start: ${(err as Error).message}`);
  process.exit(1);
}
