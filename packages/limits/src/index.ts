export * from './limits.js';
export * from './overrides.js';
export * from './rate-limiter.js';
export * from './warnings.js';
export * from './lease.js';
