/** CoordinatorRpc.ready on a connection closed while it still connects (as leaderRpc closes the addresses it no longer needs once one leads). */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CoordinatorRpc } from '../src/client/rpc.js';

/** A loopback port nothing listens on: taken, then let go. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('CoordinatorRpc.ready', () => {
  it('fails, saying so, when the connection is closed between a change of its state and ready() seeing it', async () => {
    const rpc = new CoordinatorRpc(`127.0.0.1:${await deadPort()}`);
    const channel = rpc.stub.getChannel();
    // Watching first, this runs before ready()'s own watcher on the same change: ready() then finds the channel shut.
    channel.watchConnectivityState(channel.getConnectivityState(false), Number.POSITIVE_INFINITY, () => rpc.close());
    await expect(rpc.ready(10_000)).rejects.toThrow(/was closed before it was ready/);
  });
});
