export * from './counters.js';
export * from './rollup.js';
export * from './query.js';
