export { CentralLoggerClient, createLogger, type ClientStats } from './client.js';
export { DeliveryError } from './delivery-error.js';
export { uuidv7 } from './event-id.js';
export { toEvent, type EventDefaults } from './map.js';
export type { ClientOptions, LogEvent } from './options.js';
export { endpoints } from './options.js';
