/**
 * A pino (v9+) transport: `pino.transport({ target: '@central-logger/client/pino', options })`.
 * pino runs it in a worker thread, so the service's event loop never waits on
 * shipping. Built on pino-abstract-transport, pino's own helper, which handles
 * the line splitting, backpressure and the close handshake with the main thread.
 */
import build from 'pino-abstract-transport';
import { CentralLoggerClient } from './client.js';
import { toEvent, type EventDefaults } from './map.js';
import type { ClientOptions } from './options.js';

/**
 * Plain data only (it crosses into the worker thread): no `onError` here;
 * problems are written to stderr. `url` and `apiKey` default to
 * LOGGER_API_URL and LOGGER_API_KEY; `environment` to LOGGER_ENVIRONMENT,
 * then NODE_ENV, then "development".
 */
export type PinoTransportOptions = Omit<ClientOptions, 'onError' | 'handleSignals' | 'flushOnExit'> & EventDefaults;

export default async function centralLoggerTransport(options: PinoTransportOptions = {}) {
  const { environment, status, workflow, ...clientOptions } = options;
  const defaults: EventDefaults = { environment: environment ?? process.env.LOGGER_ENVIRONMENT ?? process.env.NODE_ENV ?? 'development', status, workflow };
  // pino's close handshake flushes; the worker's own exit hooks would come too late
  const client = new CentralLoggerClient({ ...clientOptions, flushOnExit: false });
  return build(
    async (source: AsyncIterable<Record<string, unknown>>) => {
      for await (const record of source) client.log(toEvent(record, defaults));
    },
    { close: () => client.close() },
  );
}
