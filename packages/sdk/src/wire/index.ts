export * from './messages.js';
export * from './options.js';
export { wireServices } from './load.js';
