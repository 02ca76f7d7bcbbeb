export * from './jobs.js';
export * from './connection.js';
export * from './producer.js';
export * from './maintenance.js';
export * from './group-commit.js';
export * from './backlog.js';
export * from './fast-job.js';
export * from './failed-jobs.js';
