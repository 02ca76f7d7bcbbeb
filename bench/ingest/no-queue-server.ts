// The server bench/ingest/no-queue.ts measures: ingest-api itself (its
// settings from the environment, as apps/ingest-api/src/main.ts), with the
// queue write taken out: each request is authenticated, read, validated,
// rate-limited, counted and answered 202 as in production, and its events
// are then dropped instead of going into a BullMQ job. Never a way to run the
// service: nothing it accepts is kept.
import { ingestSchema, loadEnvConfig } from '@central-logger/config';
import { onShutdown } from '@central-logger/http';
import { LogsProducer } from '@central-logger/queue';
import { startIngestApi } from '../../apps/ingest-api/src/service.js';

class DroppingProducer extends LogsProducer {
  override async enqueue(): Promise<void> {}
}

const config = loadEnvConfig(ingestSchema);
const service = await startIngestApi(config, { Producer: DroppingProducer });
onShutdown(service.log, service.close, config.SHUTDOWN_TIMEOUT_MS);
