export * from './records.js';
export { startMdns, findOne } from './bonjour.js';
export type { Mdns } from './bonjour.js';
