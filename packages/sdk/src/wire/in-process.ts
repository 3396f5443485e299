/**
 * The Work stream between a coordinator and an agent that share a process
 * (the embedded cluster of `picompute submit`): two ends that behave as
 * grpc-js's duplex calls do for what AgentLink and WorkSession use (write,
 * end, cancel; the data, end, error, cancelled and close events), in order
 * and always on a later turn, as a socket would deliver.
 *
 * Every message is normalized as the wire would leave it (defaults filled
 * in, enums as strings, the oneof named) but not encoded, framed or copied:
 * Buffers are handed over as they are, so a sender must not change a buffer
 * after writing it (neither side does). On a 2-core machine this took the
 * main thread's share off the worker threads' cores: see the W1–W3 figures
 * in README.md.
 */
import { EventEmitter } from 'node:events';
import { status } from '@grpc/grpc-js';

/** grpc-js's and EventEmitter's own listener type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
// biome-ignore lint/suspicious/noExplicitAny: the listeners of grpc-js's call events, each with its own arguments
type Listener = (...args: any[]) => void;

/** What WorkSession needs of its call: grpc-js's ServerDuplexStream has it. */
export interface ServerWorkStream<Out> {
  on(event: 'data' | 'end' | 'error' | 'close' | 'cancelled', listener: Listener): unknown;
  readonly writable: boolean;
  write(msg: Out): unknown;
  end(): void;
}

/** What AgentLink needs of its call: grpc-js's ClientDuplexStream has it. */
export interface ClientWorkStream<Out> {
  on(event: 'data' | 'end' | 'error', listener: Listener): unknown;
  write(msg: Out): unknown;
  cancel(): void;
}

class End<Out> extends EventEmitter {
  peer!: End<unknown>;
  #open = true;
  /** Set on both ends by a cancel: nothing more is delivered either way. */
  #cancelled = false;
  readonly #pending: (() => void)[] = [];

  constructor(private readonly normalize: (msg: Out) => Out) {
    super();
  }

  get writable(): boolean {
    return this.#open;
  }

  write(msg: Out): boolean {
    if (!this.#open) return false;
    const normalized = this.normalize(msg);
    this.#toPeer(() => this.peer.emit('data', normalized));
    return true;
  }

  /** Half-close, then (as both sides here end together) close: the peer sees end and close after the data. */
  end(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#toPeer(() => {
      this.peer.#open = false;
      this.peer.emit('end');
      this.peer.emit('close');
      this.emit('close');
    });
  }

  /** The client's cancel: the server sees cancelled, the client a CANCELLED error, as with grpc-js. */
  cancel(): void {
    if (!this.#open) return;
    this.#open = false;
    this.peer.#open = false;
    this.#cancelled = this.peer.#cancelled = true;
    setImmediate(() => {
      this.peer.emit('cancelled');
      this.peer.emit('close');
      this.emit('error', Object.assign(new Error('Cancelled on client'), { code: status.CANCELLED, details: 'Cancelled on client' }));
    });
  }

  #toPeer(deliver: () => void): void {
    this.#pending.push(deliver);
    if (this.#pending.length === 1) setImmediate(() => this.#drain());
  }

  #drain(): void {
    // Messages written while these are delivered wait for the next turn, as they would on a socket.
    for (const deliver of this.#pending.splice(0)) if (!this.#cancelled) deliver();
  }
}

/** A connected pair: the client end writes `Up` messages and receives `Down`, the server end the reverse. */
export function inProcessPair<Up, Down>(
  normalizeUp: (msg: Up) => Up,
  normalizeDown: (msg: Down) => Down,
): { client: ClientWorkStream<Up>; server: ServerWorkStream<Down> } {
  const client = new End<Up>(normalizeUp);
  const server = new End<Down>(normalizeDown);
  client.peer = server as End<unknown>;
  server.peer = client as End<unknown>;
  return { client, server };
}
