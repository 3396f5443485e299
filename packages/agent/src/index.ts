export { startAgent, defaultTaskMemoryMb, defaultCacheDir } from './agent.js';
export type { Agent, AgentOptions } from './agent.js';
export { agentInfo, heartbeat, readTemperatureC } from './node-facts.js';
export { PICOMPUTE_VERSION } from '@picompute/sdk/version';
export { hideKeyFromJobs } from './hide-key.js';
