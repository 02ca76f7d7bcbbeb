export * from './login-limiter.js';
export * from './passwords.js';
export * from './users.js';
export * from './tokens.js';
export * from './secret.js';
export * from './invalidation.js';
export * from './sign-in.js';
export * from './provision.js';
