/**
 * A gzipped ustar archive of a folder, in memory: how a coordinator run
 * from a release hands out the very package it runs from (npm's layout,
 * everything under package/). Small on purpose: plain files and folders,
 * names under 100 bytes, which a release's files are.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

function header(name: string, mode: number, size: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 99) throw new Error(`tar: name too long for ustar: ${name}`);
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, len, 'utf8');
  const octal = (n: number, at: number, len: number) => put(`${n.toString(8).padStart(len - 1, '0')}\0`, at, len);
  put(name, 0, 100);
  octal(mode & 0o7777, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  // A fixed time: the same release makes the same bytes, so its hash is stable.
  octal(1_600_000_000, 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export function tarGzFolder(dir: string, top = 'package'): Buffer {
  const parts: Buffer[] = [];
  const walk = (abs: string, rel: string) => {
    parts.push(header(`${rel}/`, 0o755, 0, '5'));
    for (const name of readdirSync(abs).sort()) {
      const a = join(abs, name);
      const st = statSync(a);
      if (st.isDirectory()) walk(a, `${rel}/${name}`);
      else if (st.isFile()) {
        const data = readFileSync(a);
        parts.push(header(`${rel}/${name}`, st.mode & 0o111 ? 0o755 : 0o644, data.length, '0'), data, Buffer.alloc((512 - (data.length % 512)) % 512));
      }
    }
  };
  walk(dir, top);
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}
