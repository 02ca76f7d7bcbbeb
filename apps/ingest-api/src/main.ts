import { ConfigError, ingestSchema, loadEnvConfig } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startIngestApi } from './service.js';

try {
  const config = loadEnvConfig(ingestSchema);
  const service = await startIngestApi(config);
  onShutdown(service.log, service.close, config.SHUTDOWN_TIMEOUT_MS);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `ingest-api failed to start: ${(err as Error).message}`);
  process.exit(1);
}
