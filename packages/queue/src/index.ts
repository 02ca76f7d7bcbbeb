export * from './jobs.js';
export * from './connection.js';
export * from './producer.js';
export * from './maintenance.js';
