/**
 * A one-time upload (a job's packed inputs, PutBlob under `upload:<random>`)
 * written to a file under the state dir as it arrives, instead of held in
 * memory until its Submit: two 400 MB uploads whose client died before
 * submitting once kept a coordinator at ~1 GB of RAM for ten minutes. Files
 * are mode 0600 in a 0700 directory (job data is the users' business), and
 * each user's waiting uploads count against a quota, so one client cannot
 * fill the disk with uploads it never submits either.
 */
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { formatBytes } from '@picompute/sdk/units';

export class UploadQuotaError extends Error {
  override name = 'UploadQuotaError';
}

/** Bytes each user's uploads hold while they wait for their Submit. */
export class UploadQuota {
  readonly #held = new Map<string, number>();

  constructor(readonly bytesPerUser: number) {}

  /** Counts `bytes` more for `user`; throws UploadQuotaError (counting nothing) when that would pass the quota. */
  add(user: string, bytes: number): void {
    const held = (this.#held.get(user) ?? 0) + bytes;
    if (held > this.bytesPerUser) {
      throw new UploadQuotaError(
        `uploads from user "${user}" waiting for their submit would hold ${formatBytes(held)}, over this coordinator's per-user upload quota of ` +
          `${formatBytes(this.bytesPerUser)} (coordinator \`uploadQuotaBytes\`); ` +
          'submit or stop the earlier ones (uploads not submitted within 10 minutes are dropped), or send smaller inputs',
      );
    }
    this.#held.set(user, held);
  }

  release(user: string, bytes: number): void {
    const held = (this.#held.get(user) ?? 0) - bytes;
    if (held > 0) this.#held.set(user, held);
    else this.#held.delete(user);
  }

  held(user: string): number {
    return this.#held.get(user) ?? 0;
  }
}

/** The directory uploads spill into, emptied at start: a new process has no Submit coming for them. */
export function uploadDir(stateDir: string): string {
  const dir = join(stateDir, 'uploads');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { force: true });
  return dir;
}

export class SpilledUpload {
  readonly #stream: WriteStream;
  bytes = 0;
  #error: Error | undefined;

  constructor(
    readonly path: string,
    readonly user: string,
    private readonly quota: UploadQuota,
    onError: (err: Error) => void,
  ) {
    this.#stream = createWriteStream(path, { mode: 0o600, flags: 'wx' });
    this.#stream.on('error', (err) => {
      this.#error ??= err;
      onError(err);
    });
  }

  /** Appends a chunk; false when the caller should wait for `onDrain` before the next. Throws UploadQuotaError. */
  write(data: Buffer): boolean {
    this.quota.add(this.user, data.length);
    this.bytes += data.length;
    return this.#stream.write(data);
  }

  onDrain(fn: () => void): void {
    this.#stream.once('drain', fn);
  }

  /** Resolves when every byte is in the file. */
  end(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      this.#stream.end(() => (this.#error ? reject(this.#error) : resolve()));
    });
  }

  /** Forgets the upload: its file and its share of the quota. */
  discard(): void {
    this.#stream.destroy();
    rmSync(this.path, { force: true });
    this.quota.release(this.user, this.bytes);
    this.bytes = 0;
  }
}
