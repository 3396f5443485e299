/** A stream standing in for stderr, on a terminal or not, that keeps what was written. */
import { PassThrough } from 'node:stream';

export function stream(tty: boolean) {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean };
  out.isTTY = tty;
  let text = '';
  out.on('data', (d) => (text += d));
  return { out: out as unknown as NodeJS.WriteStream, text: () => text };
}
