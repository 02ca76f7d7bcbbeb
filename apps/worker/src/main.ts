import { ConfigError, loadEnvConfig, workerSchema } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startWorker } from './service.js';

try {
  const config = loadEnvConfig(workerSchema);
  const service = await startWorker(config);
  onShutdown(service.log, service.close, config.SHUTDOWN_TIMEOUT_MS);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `worker failed to start: ${(err as Error).message}`);
  process.exit(1);
}
