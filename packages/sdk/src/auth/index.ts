export * from './key.js';
export * from './hmac.js';
export * from './interceptors.js';
export * from './security.js';
export * from './cluster-tls.js';
export * from './join.js';
