export * from './event.js';
export * from './batch.js';
export * from './storable.js';
export * from './query.js';
export * from './fast-event.js';
export * from './histogram.js';
