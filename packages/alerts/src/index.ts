export * from './store.js';
export * from './rules.js';
export * from './evaluate.js';
export * from './webhook.js';
