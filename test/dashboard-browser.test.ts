/**
 * The dashboard of a running cluster in a real browser (chromium through
 * playwright-core): nodes listed, a job's progress advancing, the task
 * stream's rows, a failed job's stack, cancel from the page; and who may
 * look: without the login token, 401; forged, expired and other clusters'
 * tokens and cookies refused; changes need the CSRF token.
 */
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DashboardAuth } from '../packages/coordinator/src/dashboard/auth.js';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { chromiumMissing, launchChromium } from './support/browser.js';
import { freeLoopbackPort } from './support/prometheus.js';
import { cannotRun } from './support/requirements.js';
import { until } from './support/until.js';

const OUTPUT = new URL('../test-output/', import.meta.url).pathname;
const missing = chromiumMissing();

if (missing) {
  cannotRun('the dashboard in a real browser', missing);
} else {
  describe('the dashboard of a running cluster, in chromium', () => {
    let agents: Daemon[];
    let coordinator: Daemon;
    let browser: Browser;
    let page: Page;
    let base: string;
    const cli = (args: string[]) => runCli([...args, '--coordinator', coordinator.address]);
    const loginUrl = async (valid = '10m') => {
      const r = await runCli(['dashboard', '--coordinator', '127.0.0.1', '--dashboard-port', new URL(base).port, '--valid', valid]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const submit = async (args: string[]) => {
      const r = await cli(['submit', ...args, '--no-wait']);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split(/\s+/).pop()!;
    };
    const jobState = async (id: string) =>
      (JSON.parse((await cli(['jobs', '--json'])).stdout) as { jobId: string; state: string }[]).find((j) => j.jobId === id)?.state;

    beforeAll(async () => {
      agents = await Promise.all([
        startDaemon(['agent', '--port', '0', '--cores', '2', '--thermal-path', fixture('thermal_zone0_temp'), '--throttle-path', fixture('get_throttled')]),
        startDaemon(['agent', '--port', '0', '--cores', '1']),
      ]);
      // Bound beyond loopback, so the login is required (a loopback dashboard skips it).
      const port = await freeLoopbackPort();
      coordinator = await startDaemon([
        'coordinator',
        '--port',
        '0',
        '--dashboard-host',
        '0.0.0.0',
        '--dashboard-port',
        String(port),
        ...agents.flatMap((a) => ['--agent', a.address]),
      ]);
      await coordinator.waitFor(/agent .* up at .*\n[^]*agent .* up at /);
      base = `http://127.0.0.1:${port}`;
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
      mkdirSync(OUTPUT, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
      await Promise.all([coordinator, ...(agents ?? [])].map((d) => d?.stop('SIGKILL')));
    });

    it('refuses the page without the login token (401), in the browser too', async () => {
      for (const path of ['/', '/events', '/app.js', '/api/session']) expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      const res = await page.goto(`${base}/`);
      expect(res?.status()).toBe(401);
      expect(await page.textContent('body')).toContain('picompute dashboard');
    });

    it('after login shows the nodes, a running job advancing, and its task stream', async () => {
      const login = await page.goto(await loginUrl());
      expect(login?.status()).toBe(200);
      expect(new URL(page.url()).pathname).toBe('/');
      await page.waitForSelector('#nodes tbody tr:nth-child(2)', { timeout: 15_000 });
      expect(await page.locator('#nodes tbody tr').count()).toBe(2);
      // The fixture node's temperature and throttle flags reach the page through its heartbeats.
      await page.waitForFunction(() => document.querySelector('#nodes')!.textContent!.includes('48.3 °C'), undefined, { timeout: 10_000 });
      expect(await page.textContent('#nodes')).toContain('under-voltage');

      const id = await submit([fixture('busy.ts'), '--arg', 'n=30', '--arg', 'ms=250', '--name', 'busy-dashboard']);
      await page.waitForSelector(`#queue tr[data-job="${id}"]`, { timeout: 15_000 });
      const progress = () => page.$eval('#job-progress', (p) => (p as HTMLProgressElement).value);
      const first = await until('the job to make some progress', async () => ((await progress()) > 0 ? progress() : undefined), 20_000);
      // Three threads on two nodes: the stream shows a row per busy thread (a snapshot a second, so wait for the second row).
      await page.waitForSelector('#threads tbody tr:nth-child(2)', { timeout: 10_000 });
      expect(await page.locator('#threads tbody tr').count()).toBeGreaterThanOrEqual(2);
      await page.screenshot({ path: `${OUTPUT}dashboard-running.png`, fullPage: true });
      const later = await until('progress to advance', async () => ((await progress()) > first + 3 ? progress() : undefined), 20_000);
      expect(later).toBeGreaterThan(first);
      // README's picture (PICOMPUTE_DOCS_SCREENSHOT=1): a few seconds in, so the charts have a line.
      if (process.env.PICOMPUTE_DOCS_SCREENSHOT) await page.screenshot({ path: new URL('../docs/dashboard.png', import.meta.url).pathname, fullPage: true });
      await until('the job to complete', async () => (await jobState(id)) === 'COMPLETED' || undefined, 30_000);
      await page.waitForSelector(`#history tr[data-job="${id}"] .state-COMPLETED`, { timeout: 10_000 });
    });

    it("shows each node's speed per core from `picompute bench`, the fastest at 1.00", async () => {
      expect(await page.locator('#nodes td.speed').allTextContents()).toEqual(['not measured', 'not measured']);
      const bench = await cli(['bench', '--class', 'S', '--json']);
      expect(bench.code, bench.stderr).toBe(0);
      const measured = (JSON.parse(bench.stdout) as { perNode: { node: string; relativeSpeed: number }[] }).perNode;
      await page.waitForFunction(() => [...document.querySelectorAll('#nodes td.speed')].every((td) => /^\d\.\d\d$/.test(td.textContent!)), undefined, {
        timeout: 10_000,
      });
      const shown = await page.$$eval('#nodes tbody tr', (rows) =>
        rows.map((r) => [r.getAttribute('data-node'), Number(r.querySelector('td.speed')!.textContent)] as [string, number]),
      );
      expect(Math.max(...shown.map(([, v]) => v))).toBe(1);
      // The same figures `bench` printed (it reads the same log lines).
      for (const [node, speed] of shown) expect(speed).toBeCloseTo(measured.find((m) => m.node === node)!.relativeSpeed, 1);
    });

    it("a failed job shows its task's input preview and stack", async () => {
      const id = await submit([fixture('throws.ts')]);
      await until('the job to fail', async () => (await jobState(id)) === 'FAILED' || undefined, 30_000);
      await page.waitForSelector(`#history tr[data-job="${id}"] a`, { timeout: 10_000 });
      await page.click(`#history tr[data-job="${id}"] a`);
      await page.waitForSelector('#failures .failure pre.stack', { timeout: 10_000 });
      const failure = await page.textContent('#failures');
      expect(failure).toContain('bad value 3');
      expect(failure).toContain('throws.ts');
      expect(failure).toContain('{ n: 3 }');
      await page.screenshot({ path: `${OUTPUT}dashboard-failed.png`, fullPage: true });
    });

    it('cancel from the page ends the job CANCELLED', async () => {
      const id = await submit([fixture('busy.ts'), '--arg', 'n=3', '--arg', 'ms=60000']);
      await page.waitForSelector(`#queue tr[data-job="${id}"] button.cancel`, { timeout: 15_000 });
      await page.click(`#queue tr[data-job="${id}"] button.cancel`);
      await until('the job to be cancelled', async () => (await jobState(id)) === 'CANCELLED' || undefined, 15_000);
      await page.waitForSelector(`#history tr[data-job="${id}"] .state-CANCELLED`, { timeout: 10_000 });
    });

    it('refuses forged and expired tokens, a cookie of another cluster, changes without the CSRF token, and oversized or malformed requests', async () => {
      const good = new URL(await loginUrl()).searchParams.get('token')!;
      const [exp, mac] = good.split('.');
      const forged = `${exp}.${mac!.slice(0, -2)}${mac!.endsWith('AA') ? 'BB' : 'AA'}`;
      const later = `${Number(exp) + 60_000}.${mac}`;
      const expired = new URL(await loginUrl('1ms')).searchParams.get('token')!;
      await new Promise((r) => setTimeout(r, 20));
      for (const token of [forged, later, expired, 'nonsense', '']) {
        const res = await fetch(`${base}/login?token=${encodeURIComponent(token)}`, { redirect: 'manual' });
        expect(res.status, token).toBe(401);
        expect(res.headers.get('set-cookie'), token).toBeNull();
      }
      expect(await (await fetch(`${base}/login?token=${expired}`, { redirect: 'manual' })).text()).toContain('expired');
      const stranger = new DashboardAuth(randomBytes(32)).newSession();
      expect((await fetch(`${base}/events`, { headers: { cookie: `picompute_session=${stranger}` } })).status).toBe(401);
      expect((await fetch(`${base}/api/trace/1`, { headers: { authorization: `Bearer ${new DashboardAuth(randomBytes(32)).loginToken()}` } })).status).toBe(
        401,
      );

      // A real session, but no CSRF token: no change.
      const login = await fetch(`${base}/login?token=${good}`, { redirect: 'manual' });
      expect(login.status).toBe(303);
      const session = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(login.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
      const node = (JSON.parse((await cli(['nodes', '--json'])).stdout) as { info: { id: string } }[])[0]!.info.id;
      expect((await fetch(`${base}/api/drain/${node}`, { method: 'POST', headers: { cookie: session } })).status).toBe(403);
      expect((await fetch(`${base}/api/drain/${node}`, { method: 'POST', headers: { cookie: session, 'x-csrf-token': 'x'.repeat(43) } })).status).toBe(403);
      expect((await fetch(`${base}/api/drain/${node}`, { headers: { cookie: session } })).status).toBe(405);
      const nodes = JSON.parse((await cli(['nodes', '--json'])).stdout) as { state: string }[];
      expect(nodes.map((n) => n.state)).not.toContain('draining');
      expect(nodes.map((n) => n.state)).not.toContain('drained');

      const raw = (bytes: string) =>
        new Promise<string>((resolve) => {
          const socket = connect(Number(new URL(base).port), '127.0.0.1');
          let answer = '';
          socket.on('data', (d) => (answer += d));
          socket.on('close', () => resolve(answer.split('\r\n')[0]!));
          socket.on('error', () => resolve(answer.split('\r\n')[0] ?? ''));
          socket.end(bytes);
        });
      expect(await raw(`GET / HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatch(/ 431 /);
      expect(await raw('\x00\x01 garbage\r\n\r\n')).toMatch(/ 400 /);
      // And it still serves.
      expect((await fetch(`${base}/api/session`, { headers: { cookie: session } })).status).toBe(200);
    });
  });
}
