/**
 * The picompute version: the one place it is written. Every package reads
 * it (the CLI's --version, the agent's mDNS TXT record and hello, the
 * coordinator's record, `picompute nodes`); a test keeps every package.json
 * in step with it.
 */
export const PICOMPUTE_VERSION = '0.1.0';
