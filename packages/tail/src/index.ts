export * from './names.js';
export * from './notifier.js';
export * from './leases.js';
export * from './stream.js';
export * from './hub.js';
