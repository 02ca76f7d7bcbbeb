import { ConfigError, loadConfig, workerSchema } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startWorker } from './service.js';

try {
  const service = await startWorker(loadConfig(workerSchema));
  onShutdown(service.log, service.close);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `worker failed to start: ${(err as Error).message}`);
  process.exit(1);
}
