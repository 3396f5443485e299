/**
 * The same mistake read through the SDK and through the command: the library
 * names the option (`tlsCert`), the CLI prints the flag (`--tls-cert`) in an
 * error, in a daemon's error at start, and in a daemon's log line.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSecurity } from '@picompute/sdk/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonLogger } from '../packages/cli/src/daemon-log.js';
import { runCli, stateDir } from './support/cli.js';

let busy: Server;
let busyPort: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => busy.close(() => resolve())));

describe('a library message names the option; the CLI shows the flag', () => {
  it('a certificate without its key: the SDK says tlsCert/tlsKey, `picompute nodes` says --tls-cert/--tls-key (exit 2)', async () => {
    const cert = join(await mkdtemp(join(tmpdir(), 'picompute-flags-')), 'cert.pem');
    await writeFile(cert, 'not a certificate');
    await expect(loadSecurity({ tlsCert: cert })).rejects.toThrow('`tlsCert` and `tlsKey` go together: give both, or neither');
    const r = await runCli(['nodes', '--coordinator', '127.0.0.1:1', '--tls-cert', cert]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('picompute: --tls-cert and --tls-key go together: give both, or neither\n');
  });

  it('a coordinator whose metrics port is taken names --metrics-host/--metrics-port and stops', async () => {
    const r = await runCli(
      ['coordinator', '--host', '127.0.0.1', '--port', '0', '--state-dir', stateDir(), '--no-dashboard', '--no-mdns', '--metrics-port', String(busyPort)],
      {
        timeoutMs: 20_000,
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`picompute: coordinator metrics (--metrics-host/--metrics-port): 127.0.0.1:${busyPort} is in use; choose another port`);
  });

  it('a coordinator whose dashboard port is taken names --dashboard-host/--dashboard-port and stops', async () => {
    const r = await runCli(
      ['coordinator', '--host', '127.0.0.1', '--port', '0', '--state-dir', stateDir(), '--no-mdns', '--dashboard-port', String(busyPort)],
      { timeoutMs: 20_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`picompute: dashboard (--dashboard-host/--dashboard-port): 127.0.0.1:${busyPort} is in use; choose another port`);
  });

  it("a daemon's log line shows flags for the options it names, and leaves other backticked words alone", () => {
    const lines: string[] = [];
    const log = daemonLogger('coordinator', { logFormat: 'text', logLevel: 'info' }, (s) => lines.push(s));
    log('no dashboard: dashboard: 127.0.0.1:7702 is in use; choose another port (or leave out the `dashboard` option)');
    log("the state database's disk is full (free some space, or restart with a `stateDir` on a bigger disk); see `picompute init`");
    expect(lines[0]).toMatch(/ no dashboard: dashboard: 127\.0\.0\.1:7702 is in use; choose another port \(or pass --no-dashboard\)\n$/);
    expect(lines[1]).toMatch(/ \(free some space, or restart with a --state-dir on a bigger disk\); see `picompute init`\n$/);
  });
});
