/**
 * A job whose inputs(args) never ends is stopped in the submitting client by
 * the caps on the number and the size of inputs, with a message naming the
 * cap and the flag; nothing reaches a cluster.
 */
import { describe, expect, it } from 'vitest';
import { fixture, runCli } from './support/cli.js';

describe('submit caps what inputs(args) may yield', () => {
  it('stops an endless inputs() at --max-inputs and says which flag raises it', async () => {
    const r = await runCli(['submit', fixture('endless.ts'), '--local', '--max-inputs', '50000'], { timeoutMs: 120_000 });
    expect(r.stderr).toMatch(/yielded more than 50,000 inputs, the cap on inputs per job; if that many are meant, raise it with --max-inputs,/);
    expect(r.code).toBe(2);
  });

  it('stops an endless inputs() of 64 KiB strings at --max-input-bytes and says which flag raises it', async () => {
    const r = await runCli(['submit', fixture('endless.ts'), '--local', '--arg', 'kib=64', '--max-input-bytes', '8M'], { timeoutMs: 120_000 });
    expect(r.stderr).toMatch(
      new RegExp(
        /yielded more than 8 MiB of encoded inputs \(12\d inputs so far\), the cap on a job's input size; /.source +
          /if that much is meant, raise it with --max-input-bytes,/.source,
      ),
    );
    expect(r.code).toBe(2);
  });

  it('documents both caps and their defaults in --help', async () => {
    const r = await runCli(['submit', '--help']);
    expect(r.stdout).toMatch(/--max-inputs <n>[^]*default 10000000/);
    expect(r.stdout).toMatch(/--max-input-bytes <size>[^]*default 4G/);
  });
});
