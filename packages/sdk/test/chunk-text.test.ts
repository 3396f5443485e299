/**
 * chunkText: a chunk's text exactly as data.toString() gives it, whatever the
 * bytes (ASCII takes the fast Latin-1 path, anything else UTF-8).
 */
import { describe, expect, it } from 'vitest';
import { chunkText } from '@picompute/sdk';

const chunk = (data: Buffer) => ({ path: 'a.txt', offset: 0, data });

describe('chunkText', () => {
  it('gives what toString() gives for ASCII, UTF-8 with multi-byte characters, and broken UTF-8', () => {
    const samples = [
      Buffer.from('plain ASCII\nlines\tand tabs\n'),
      Buffer.from('café, naïve, 東京, 🍓\n'),
      Buffer.from([0x61, 0xc3, 0x28, 0x62, 0xff, 0x0a]), // an invalid sequence and a lone 0xFF
      Buffer.from([0x7f, 0x80]), // the last ASCII byte, then the first that is not
      Buffer.alloc(0),
    ];
    for (const data of samples) {
      expect(chunkText(chunk(data))).toBe(data.toString());
      expect(chunkText(data)).toBe(data.toString());
    }
  });

  it('reads a Uint8Array that is not a Buffer, and only its own view of the memory', () => {
    const whole = new TextEncoder().encode('skip|größe|skip');
    const view = whole.subarray(5, 12);
    expect(chunkText(view)).toBe('größe');
  });
});
