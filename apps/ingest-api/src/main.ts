import { ConfigError, ingestSchema, loadConfig } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { startIngestApi } from './service.js';

try {
  const service = await startIngestApi(loadConfig(ingestSchema));
  onShutdown(service.log, service.close);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `ingest-api failed to start: ${(err as Error).message}`);
  process.exit(1);
}
