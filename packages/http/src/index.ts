export * from './logger.js';
export * from './error-middleware.js';
export * from './body.js';
export * from './server.js';
export * from './health.js';
export * from './signals.js';
export * from './json-body.js';
export * from './metrics.js';
