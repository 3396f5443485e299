/**
 * A daemon's server lets a peer send 4 MiB before reading, as clients do:
 * with HTTP/2's 64 KiB, an upload to a daemon (a job's inputs, an Assign's
 * inputs) went in 64 KiB round trips. Read off a real server bound the way
 * daemons bind it, by a plain HTTP/2 session: the stream window it
 * advertises and the connection window it grants.
 */
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { bindServer } from '@picompute/sdk/auth';
import { RECEIVE_WINDOW_BYTES } from '@picompute/sdk/wire';

const DEFAULT_WINDOW = 65_535;

describe("a daemon's gRPC server", () => {
  let server: grpc.Server | undefined;
  let session: ClientHttp2Session | undefined;
  afterEach(() => {
    session?.destroy();
    server?.forceShutdown();
  });

  it('advertises a 4 MiB stream window and grants a 4 MiB connection window', async () => {
    server = new grpc.Server();
    const port = await bindServer(server, '127.0.0.1:0', {}, 'test');
    const s = connect(`http://127.0.0.1:${port}`);
    session = s;
    const settings = await new Promise<{ initialWindowSize?: number }>((resolve, reject) => {
      s.once('remoteSettings', resolve);
      s.once('error', reject);
    });
    expect(settings.initialWindowSize).toBe(RECEIVE_WINDOW_BYTES);
    // A ping's answer comes after the WINDOW_UPDATE the server sent with its session's start.
    await new Promise<void>((resolve, reject) => s.ping((err) => (err ? reject(err) : resolve())));
    expect(RECEIVE_WINDOW_BYTES).toBeGreaterThan(DEFAULT_WINDOW);
    expect(s.state.remoteWindowSize).toBe(RECEIVE_WINDOW_BYTES);
  });
});
