export { startAgent, defaultTaskMemoryMb } from './agent.js';
export type { Agent } from './agent.js';
export { defaultCacheDir } from './agent-options.js';
export type { AgentOptions } from './agent-options.js';
export { agentInfo, heartbeat, readTemperatureC } from './node-facts.js';
export { PICOMPUTE_VERSION } from '@picompute/sdk/version';
export { hideKeyFromJobs } from './hide-key.js';
