export * from './schema.js';
export * from './decode.js';
export * from './values.js';
export * from './map.js';
export * from './answer.js';
export * from './body.js';
