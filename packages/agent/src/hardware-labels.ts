/**
 * Labels an agent gives itself, so `submit --constraint arch=arm64` or
 * `--constraint model=pi5` works without labelling every node by hand:
 * `arch=` is Node's name for the CPU (arm64, arm, x64, …), `model=` the
 * board from the device tree (`Raspberry Pi 5 Model B Rev 1.0` → pi5),
 * where the kernel has one.
 */
import { readFile } from 'node:fs/promises';
import { arch } from 'node:os';

export const DEFAULT_MODEL_PATH = '/proc/device-tree/model';

/** `Raspberry Pi 5 Model B Rev 1.0` → pi5, `Raspberry Pi Compute Module 4` → cm4, `Raspberry Pi Zero 2 W` → pi-zero2; another board: its name in lower case, dashed. */
export function modelLabel(model: string): string {
  // The device tree's strings end in a NUL.
  const name = model.replace(/\0/g, '').trim();
  const pi = /^Raspberry Pi (\d+|Zero(?: (\d+))?|Compute Module (\d+))\b/i.exec(name);
  if (pi) {
    if (pi[3]) return `cm${pi[3]}`;
    if (/^zero/i.test(pi[1]!)) return `pi-zero${pi[2] ?? ''}`;
    return `pi${pi[1]}`;
  }
  return name
    .toLowerCase()
    .replace(/\brev\b.*$/, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** `arch=…` always, `model=…` where `modelPath` is readable and names something. */
export async function hardwareLabels(modelPath = DEFAULT_MODEL_PATH): Promise<string[]> {
  const labels = [`arch=${arch()}`];
  const model = await readFile(modelPath, 'utf8').then(modelLabel, () => '');
  if (model) labels.push(`model=${model}`);
  return labels;
}
