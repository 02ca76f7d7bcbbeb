export * from './client.js';
export * from './database.js';
export * from './migrate.js';
export * from './errors.js';
export * from './clients.js';
export * from './logs.js';
