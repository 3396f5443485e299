/**
 * What the keyed-job cluster tests stand on: a word-count corpus whose exact
 * answer is known, and free loopback ports (an agent started again on the
 * same port keeps its node id).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

const WORDS = 'the quick brown fox jumps over the lazy dog while seven pale wizards hum in a crooked barn'.split(' ');

/** `files` text files of 300 lines in `dir`; returns how often each word occurs across them. */
export async function wordCorpus(dir: string, files: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await mkdir(dir, { recursive: true });
  for (let f = 0; f < files; f++) {
    const lines: string[] = [];
    for (let l = 0; l < 300; l++) {
      const line = Array.from({ length: 8 }, (_, i) => WORDS[(f * 7 + l * 3 + i * 5) % WORDS.length]!).join(' ');
      lines.push(line);
      for (const w of line.split(' ')) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    await writeFile(join(dir, `doc-${f}.txt`), `${lines.join('\n')}\n`);
  }
  return counts;
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
