/** Real daemons on loopback (an agent and a coordinator process, the SDK submitting from this process), warm. */
import { readFileSync } from 'node:fs';
import { parseKey } from '@picompute/sdk/auth';
import { connect } from '@picompute/sdk/client';
import { daemon, here, keyEnv, stop } from './harness.mjs';

/** Runs `fn(client)` against them; `keyed` false: plain HTTP/2 without the key (allowed on loopback only). */
export async function withDaemons(cores, fn, { keyed = true } = {}) {
  const { env, keyFile } = keyEnv();
  if (!keyed) delete env.PICOMPUTE_KEY_FILE;
  const security = keyed ? { key: parseKey(readFileSync(keyFile, 'utf8'), keyFile) } : {};
  const agent = await daemon(['agent', '--host', '127.0.0.1', '--port', '0', '--cores', String(cores)], env);
  const coordinator = await daemon(['coordinator', '--host', '127.0.0.1', '--port', '0', '--agent', agent.address], env);
  try {
    const client = await connect({ coordinator: coordinator.address, security });
    try {
      await (await client.submit(here('jobs/echo.ts'), { args: { tasks: '100' } })).result();
      return await fn(client);
    } finally {
      client.close();
    }
  } finally {
    await Promise.all([stop(agent), stop(coordinator)]);
  }
}
