/**
 * Folders whose files get run (bundle caches) or hold what others must not
 * read must be this user's alone: a cache another user can write into lets
 * them replace the code a client or an agent runs.
 */
import { lstat, mkdir } from 'node:fs/promises';
import { JobFileError } from './bundle-errors.js';

/** A folder that is not ours alone. Named JobFileError still: the CLI goes by name, and this too ends `submit` with exit code 2 before anything runs. */
export class UnsafeDirError extends JobFileError {}

/** Creates `dir` (mode 700) if needed, and refuses it unless it is a real folder owned by this user that no one else may write. */
export async function privateDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const s = await lstat(dir);
  const refuse = (why: string, fix: string) =>
    new UnsafeDirError(`refusing the cache folder ${dir}: ${why}, so someone else could replace the job code run from it. ${fix}`);
  if (!s.isDirectory()) throw refuse('it is not a folder (a symbolic link?)', `Remove it: rm ${dir}`);
  const uid = process.getuid?.();
  if (uid !== undefined && s.uid !== uid)
    throw refuse(`it belongs to uid ${s.uid}, not to you (uid ${uid})`, 'Have it removed, or set XDG_CACHE_HOME to a folder of your own.');
  if (s.mode & 0o022) throw refuse(`group or others may write to it (mode ${(s.mode & 0o777).toString(8)})`, `Fix: chmod 700 ${dir}`);
  return dir;
}
