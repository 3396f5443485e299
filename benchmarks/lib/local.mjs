/** The embedded cluster (coordinator + one agent, in this process) and a client for it. */
import { startLocalCluster } from '@picompute/cli';

export async function withLocalCluster(cores, fn, options = {}) {
  const cluster = await startLocalCluster({ cores, ...options });
  const client = await cluster.connect();
  try {
    return await fn(client, cluster);
  } finally {
    await cluster.close();
  }
}

export async function runJob(client, file, args) {
  return (await client.submit(file, { args })).result();
}
