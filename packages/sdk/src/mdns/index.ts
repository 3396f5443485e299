export * from './records.js';
export { startMdns, lookFor } from './bonjour.js';
export type { Mdns } from './bonjour.js';
