/**
 * What an agent tells about its node: static facts in its AgentInfo, live
 * ones (load, free memory, CPU temperature) in heartbeats.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { arch, availableParallelism, freemem, hostname, loadavg, totalmem } from 'node:os';
import { PICOMPUTE_VERSION } from '@picompute/sdk/version';
import type { AgentInfo, Heartbeat } from '@picompute/sdk/wire';
import type { SensorReadings } from './sensor-readings.js';

/** Raspberry Pi OS and most Linux boards expose the SoC temperature here, in millidegrees. */
export const DEFAULT_THERMAL_PATH = '/sys/class/thermal/thermal_zone0/temp';

export interface NodeFactsOptions {
  id?: string;
  cores?: number;
  labels?: string[];
}

export function agentInfo(options: NodeFactsOptions = {}): AgentInfo {
  const host = hostname();
  return {
    // Many Pis are all called "raspberrypi": a random suffix keeps ids unique.
    id: options.id ?? `${host}-${randomBytes(3).toString('hex')}`,
    hostname: host,
    cores: options.cores ?? availableParallelism(),
    memoryMb: Math.floor(totalmem() / 1048576),
    arch: arch(),
    nodeVersion: process.version,
    version: PICOMPUTE_VERSION,
    labels: options.labels ?? [],
  };
}

/** Degrees Celsius, or NaN where the node has no readable sensor. */
export async function readTemperatureC(path = DEFAULT_THERMAL_PATH): Promise<number> {
  try {
    const milli = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(milli) ? milli / 1000 : NaN;
  } catch {
    return NaN;
  }
}

/** A heartbeat's facts: read now (load, memory) or kept from the sensors' last read; the work session adds the ping echo, the speed and what it is sending. */
export function heartbeat(busyThreads: number, sensors: SensorReadings): Omit<Heartbeat, 'speed' | 'pingEchoMs' | 'sendingBytes'> {
  void sensors.refresh();
  return {
    load1: loadavg()[0] ?? 0,
    freeMemoryMb: Math.floor(freemem() / 1048576),
    temperatureC: sensors.temperatureC,
    busyThreads,
    sentAtMs: Date.now(),
    throttled: sensors.throttled,
  };
}
