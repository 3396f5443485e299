/**
 * Hostile or unlucky requests to a daemon's /metrics are answered, not
 * suffered: oversized and malformed requests get 4xx and the server keeps
 * serving, and scrapes during a coordinator's shutdown get an answer or a
 * refused connection, never a hang, while the daemon still exits cleanly.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';

/** Sends raw bytes and returns the status line of the answer ('' when the server just closed). */
function raw(hostPort: string, bytes: string): Promise<string> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host!);
    let answer = '';
    socket.setTimeout(10_000, () => reject(new Error(`no answer from ${hostPort} in 10 s`)));
    socket.on('data', (d) => (answer += d));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.end(bytes);
  });
}

describe("a coordinator's /metrics under bad input", () => {
  let coordinator: Daemon;
  let metrics: string;

  beforeAll(async () => {
    coordinator = await startDaemon(['coordinator', '--port', '0', '--metrics-port', '0']);
    metrics = await coordinator.waitFor(/metrics at http:\/\/(\S+)\/metrics/);
  });
  afterAll(async () => {
    await coordinator?.stop('SIGKILL');
  });

  it('refuses oversized and malformed requests and other methods and paths, then still serves', async () => {
    expect(await raw(metrics, `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431/);
    expect(await raw(metrics, 'NOT HTTP AT ALL\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    expect(await raw(metrics, `GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`)).toMatch(/^HTTP\/1\.1 400/);
    expect((await fetch(`http://${metrics}/metrics`, { method: 'POST', body: 'x'.repeat(100_000) })).status).toBe(405);
    expect((await fetch(`http://${metrics}/`)).status).toBe(404);
    const ok = await fetch(`http://${metrics}/metrics`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('picompute_agents{state="idle"} 0');
  });

  it('scrapes during shutdown get 200, 503 or a refused connection, never a hang, and the coordinator exits 0', async () => {
    const outcomes: string[] = [];
    let stopping = true;
    const scraper = (async () => {
      while (stopping) {
        const r = await fetch(`http://${metrics}/metrics`, { signal: AbortSignal.timeout(10_000) }).then(
          async (res) => (await res.text(), String(res.status)),
          (err: Error) => (err.name === 'TimeoutError' ? 'hang' : 'refused'),
        );
        outcomes.push(r);
        if (r === 'refused') break;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const code = await coordinator.stop('SIGTERM');
    stopping = false;
    await scraper;
    expect(code).toBe(0);
    expect(outcomes).not.toContain('hang');
    expect(new Set(outcomes.filter((o) => !['200', '503', 'refused'].includes(o)))).toEqual(new Set());
    expect(outcomes).toContain('200');
  });
});
