export { startAgent, defaultTaskMemoryMb, defaultCacheDir } from './agent.js';
export type { Agent, AgentOptions } from './agent.js';
export { agentInfo, heartbeat, readTemperatureC, PICOMPUTE_VERSION } from './node-facts.js';
export { hideKeyFromJobs } from './hide-key.js';
