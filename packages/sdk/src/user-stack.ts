/**
 * An error from the user's own code (inputs(), or the job file's top level)
 * as the user should read it: the message and the frames in their files, the
 * way a failing map task is reported. picompute's own frames (this SDK,
 * wherever it is bundled, the command) and Node's internals are dropped.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folders whose frames are picompute's, not the user's: this module's own, and the SDK package's. */
const OWN_DIRS = [dirname(fileURLToPath(import.meta.url)), dirname(fileURLToPath(import.meta.resolve('@picompute/sdk')))];

const isOwnFrame = (line: string) => line.includes('node:internal') || line.includes('(node:') || OWN_DIRS.some((d) => line.includes(`${d}/`));

/**
 * Stack traces point into the user's job.ts only when Node applies the
 * bundle's inline source map, which it reads for modules loaded after this
 * call (process-wide; it only changes how stack traces are written).
 */
export function mapUserStacks(): void {
  process.setSourceMapsEnabled(true);
}

/** `Name: message` and the user's frames; a thrown non-Error is shown as it is. */
export function userStack(err: unknown): string {
  if (!(err instanceof Error)) return `a non-Error value was thrown: ${String(err)}`;
  const [head, ...frames] = (err.stack ?? `${err.name}: ${err.message}`).split('\n');
  const firstFrame = frames.findIndex((f) => /^\s+at /.test(f));
  // Lines of a multi-line message come before the first frame: keep them.
  const messageLines = firstFrame < 0 ? frames : frames.slice(0, firstFrame);
  const mine = firstFrame < 0 ? [] : frames.slice(firstFrame).filter((f) => !isOwnFrame(f));
  return [head, ...messageLines, ...mine].join('\n');
}
