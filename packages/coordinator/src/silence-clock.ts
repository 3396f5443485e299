/**
 * How long an agent has said nothing, as its link's liveness timer counts it.
 *
 * Silence is counted tick by tick, and a tick that fires late (this process's
 * event loop was busy) counts for at most `maxTickMs`: the agent's messages of
 * that time are unread in the socket, not missing. It is counted from the
 * last message heard, not from the tick before it: counting from the tick
 * added up to one whole tick of silence the agent never kept, so an agent
 * that spoke just before a tick was taken for dead a tick early (2.5 s after
 * its last heartbeat, under a 3 s limit).
 *
 * An agent about to send a big message says so in a heartbeat first (its
 * `sendingBytes`): encoding tens of MiB and moving them takes a slow node
 * seconds, and nothing else it says can arrive before them on the stream.
 * The silence after such a heartbeat may last longer by the time those bytes
 * take at `SLOW_BYTES_PER_MS`. A dead agent is still caught: its socket
 * breaks, or gRPC's keepalive ping (every 10 s) goes unanswered.
 */

/** 4 MiB/s: a slow node encoding and a Pi's Wi-Fi moving a message at once. */
export const SLOW_BYTES_PER_MS = (4 * 1024 * 1024) / 1000;
export class SilenceClock {
  #silentMs = 0;
  #lastTick: number;
  #heardAt: number;
  #graceMs = 0;

  constructor(
    now: number,
    private readonly maxTickMs: number,
  ) {
    this.#lastTick = now;
    this.#heardAt = now;
  }

  get silentMs(): number {
    return this.#silentMs;
  }

  /** How much longer than usual the silence may last: the announced bytes still on their way. */
  get graceMs(): number {
    return this.#graceMs;
  }

  /** A message arrived at `now`. */
  heard(now: number): void {
    this.#silentMs = 0;
    this.#heardAt = now;
    this.#graceMs = 0;
  }

  /** The message just heard said `bytes` more follow in the next one. */
  expect(bytes: number): void {
    this.#graceMs = bytes / SLOW_BYTES_PER_MS;
  }

  /** A liveness tick at `now`; returns the silence so far. */
  tick(now: number): number {
    this.#silentMs += Math.min(now - Math.max(this.#lastTick, this.#heardAt), this.maxTickMs);
    this.#lastTick = now;
    return this.#silentMs;
  }
}
