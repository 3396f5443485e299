/**
 * Channel and server options shared by every picompute endpoint, and the
 * `host:port` parsing that every command-line flag goes through.
 */
import type { ChannelOptions } from '@grpc/grpc-js';

/** One message may carry a batch of tasks or results; blobs travel in chunks of up to 4 MiB. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
export const BLOB_CHUNK_BYTES = 4 * 1024 * 1024;
/** One task's input or output must fit in a message with room to spare. */
export const MAX_VALUE_BYTES = MAX_MESSAGE_BYTES - 1024 * 1024;
/**
 * A job's shared value, encoded: every node keeps it on disk and each of its
 * worker threads decodes its own copy, so on a 1 GB Pi this must stay small.
 */
export const MAX_SHARED_BYTES = 64 * 1024 * 1024;

/**
 * What a peer may send on a stream, and on a connection, before this side
 * reads it. HTTP/2's default (64 KiB) held a stream of 256 KiB chunks (a
 * run, a part) to one chunk per round trip: 300 MB of parts took 11 s on
 * loopback. Clients set it through `grpc-node.flow_control_window`; grpc-js
 * 1.14 applies that to clients only, so daemons' servers raise their own
 * (see raiseReceiveWindow in ../auth/security.ts).
 */
export const RECEIVE_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Keepalive pings find a dead peer on an idle stream in ~15 s even when TCP
 * does not notice (a pulled plug); heartbeats on the Work stream do it faster.
 */
export const CHANNEL_OPTIONS: ChannelOptions = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
  'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
};

/** Server options; a daemon may lower the message limit (a message past it is refused with RESOURCE_EXHAUSTED). */
export function serverOptions(maxMessageBytes = MAX_MESSAGE_BYTES): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    // Pings from the server side too, so an agent notices a coordinator that vanished and frees its cores.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    // A peer that connects and never speaks HTTP/2 is dropped, so idle sockets cannot pile up.
    'grpc.max_connection_idle_ms': 5 * 60_000,
  };
}

export interface HostPort {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (loopback). */
export function parseAddress(text: string, what = 'address'): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new RangeError(`${what}: "${text}" is not host:port (for example 127.0.0.1:7700 or pi5-1.local:7701)`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
