/**
 * Shows a job's progress on stderr: a bar redrawn in place on a TTY, a plain
 * line every few seconds elsewhere (logs, CI). Task log lines are printed as
 * they arrive, tagged with task index and node.
 */
import { formatBytes, formatDuration } from '@picompute/sdk/units';
import type { UploadProgress } from '@picompute/sdk/client';
import type { JobEvent } from '@picompute/sdk/wire';

const PLAIN_EVERY_MS = 5000;
/** No task finished for this long: the job is stalled, and progress names the tasks out longest. */
const STALLED_AFTER_MS = 5000;
const BAR_WIDTH = 24;

export class Progress {
  readonly #tty: boolean;
  #lastPlain = 0;
  #drawn = false;
  #lastReason = '';
  #lastDone = -1;
  #lastDoneAt = 0;
  #saidStalled = false;
  #upload: UploadProgress | undefined;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {
    this.#tty = out.isTTY === true;
  }

  /** `upload`: the job's input chunks still going up (see the SDK's JobHandle.upload), said beside the tasks. */
  update(ev: JobEvent, upload?: UploadProgress): void {
    this.#upload = upload;
    if (ev.tasksDone !== this.#lastDone) {
      this.#lastDone = ev.tasksDone;
      this.#lastDoneAt = Date.now();
    }
    for (const l of ev.logs) this.#line(`[task ${l.task < 0 ? 'reduce' : l.task} @ ${l.node}] ${l.line}`);
    const text = this.#describe(ev);
    if (this.#tty) {
      this.out.write(`\r\x1b[2K${text}`);
      this.#drawn = true;
    } else if (ev.state === 'PENDING' && ev.reason && ev.reason !== this.#lastReason) {
      this.#lastReason = ev.reason;
      this.out.write(`job ${ev.jobId}: ${text}\n`);
    } else if (ev.state === 'RUNNING') {
      const now = Date.now();
      this.#lastPlain ||= now;
      // A stall is said when it starts, not at the next 5 s line: it may end the job (time limit) before that.
      const stalled = this.#stalled(ev) !== '';
      if (now - this.#lastPlain >= PLAIN_EVERY_MS || (stalled && !this.#saidStalled)) {
        this.#lastPlain = now;
        this.out.write(`job ${ev.jobId}: ${text}\n`);
      }
      this.#saidStalled = stalled;
    }
  }

  end(): void {
    if (this.#drawn) this.out.write('\r\x1b[2K');
    this.#drawn = false;
  }

  #line(text: string): void {
    if (this.#drawn) this.out.write('\r\x1b[2K');
    this.#drawn = false;
    this.out.write(`${text}\n`);
  }

  #describe(ev: JobEvent): string {
    if (ev.state === 'PENDING') return `pending (${ev.reason || 'queued'}${ev.reason === 'NoNodes' ? ': no agent is up yet; the job waits for one' : ''})`;
    const elapsed = ev.wallMs;
    const rate = elapsed > 0 ? (ev.tasksDone / elapsed) * 1000 : 0;
    const left = ev.tasksTotal - ev.tasksDone;
    const eta = rate > 0 ? formatDuration((left / rate) * 1000) : '?';
    const filled = ev.tasksTotal ? Math.round((ev.tasksDone / ev.tasksTotal) * BAR_WIDTH) : 0;
    const bar = this.#tty ? `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ` : '';
    const retries = ev.retries ? ` · ${ev.retries} re-run` : '';
    const u = this.#upload;
    const sending = u && !u.done ? ` · inputs sent ${formatBytes(u.bytesSent)} of ${formatBytes(u.bytesToSend)}` : '';
    return `${bar}${ev.tasksDone}/${ev.tasksTotal} tasks · ${rate.toFixed(1)}/s · ETA ${eta}${retries}${sending}${phases(ev)}${this.#stalled(ev)}`;
  }

  /** When nothing finished for a while: which tasks the job waits for, where, and for how long. */
  #stalled(ev: JobEvent): string {
    const quietMs = Date.now() - this.#lastDoneAt;
    if (quietMs < STALLED_AFTER_MS || !ev.runningLongest?.length) return '';
    const longest = ev.runningLongest.map((t) => `${taskName(t.index)} on ${t.node} for ${formatDuration(t.runningMs)}`).join(', ');
    return ` · no task finished for ${formatDuration(quietMs)}; running longest: ${longest}`;
  }
}

/** Index -1 is the reduce step, lower ones fold groups of map outputs. */
function taskName(index: number): string {
  // A keyed job's reduce of partition p is -2^30 - p on the wire.
  if (index <= -(2 ** 30)) return `the reduce of partition ${-(2 ** 30) - index}`;
  return index >= 0 ? `task ${index}` : index === -1 ? 'the reduce step' : 'a group fold';
}

/** A keyed job's phases: ` · map 8/8 (12 MiB in) · shuffle 3.1 MiB · reduce 2/4 (40 KiB out)`. */
function phases(ev: JobEvent): string {
  const s = ev.shuffle;
  if (!s) return '';
  const bytes = (n: number | string) => formatBytes(Number(n));
  return ` · map ${s.mapsDone}/${s.mapsTotal} (${bytes(s.bytesIn)} in) · shuffle ${bytes(s.bytesShuffled)} · reduce ${s.reducesDone}/${s.reducesTotal} (${bytes(s.bytesOut)} out)`;
}
