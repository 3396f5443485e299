/**
 * The node's facts that take a file read or a process to learn (the SoC
 * temperature, the Pi firmware's throttle bits), kept from their last read so
 * a heartbeat goes out the moment its timer fires.
 *
 * A heartbeat that awaited its reads waited on libuv's I/O threads and on
 * this thread's next turn: behind a flush of big results (seconds of copying
 * on a slow core) it went out late enough for the coordinator to take a live
 * agent for dead and run its tasks again, three times, failing the job. A
 * sensor that never answers (a wedged I2C driver; a test's FIFO) silenced the
 * heartbeats for good and, one read a second, took every I/O thread. Now at
 * most one read is under way; until the first ends, the temperature is NaN
 * and the throttle bits -1, as on a node without them.
 */
import { readTemperatureC } from './node-facts.js';
import type { ThrottleReader } from './throttle.js';

export class SensorReadings {
  #temperatureC = Number.NaN;
  #throttled = -1;
  #reading: Promise<void> | undefined;

  constructor(
    private readonly thermalPath: string | undefined,
    private readonly throttle: ThrottleReader | undefined,
  ) {}

  get temperatureC(): number {
    return this.#temperatureC;
  }

  get throttled(): number {
    return this.#throttled;
  }

  /** Reads the sensors again unless a read is under way; resolves when that read ends. */
  refresh(): Promise<void> {
    this.#reading ??= Promise.all([readTemperatureC(this.thermalPath), this.throttle?.read() ?? -1])
      .then(([temperatureC, throttled]) => {
        this.#temperatureC = temperatureC;
        this.#throttled = throttled;
      })
      .finally(() => {
        this.#reading = undefined;
      });
    return this.#reading;
  }
}
