/**
 * The dashboard's nodes panel shows the speed per core each agent measured at
 * start (`2.6×` the slowest node up, the figure `picompute nodes` shows) and,
 * while a node gets new tasks at a reduced rate, why ("throttled: soft
 * temperature limit"), in chromium. One agent reads the Pi firmware's
 * get_throttled bits from a file the test flips; the `bench` column stays
 * what it was (not measured until `picompute bench` runs).
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { fixture, runCli, startDaemon } from './support/cli.js';
import type { Daemon } from './support/cli.js';
import { chromiumMissing, launchChromium } from './support/browser.js';
import { freeLoopbackPort } from './support/prometheus.js';
import { cannotRun } from './support/requirements.js';
import { throttleFile } from './support/throttle-file.js';

const OUTPUT = new URL('../test-output/', import.meta.url).pathname;
const missing = chromiumMissing();

type Node = { info: { id: string }; address: string; speedFactor: number; slowed: string };

if (missing) {
  cannotRun("the dashboard's measured speeds in a real browser", missing);
} else {
  describe("the dashboard's measured speed and slowed reason, in chromium", () => {
    const { path: bits, set: setBits } = throttleFile('picompute-dashboard-speed-');
    const daemons: Daemon[] = [];
    let hot: Daemon;
    let coordinator: Daemon;
    let browser: Browser;
    let page: Page;

    beforeAll(async () => {
      setBits('0x80008');
      hot = await startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '1', '--throttle-path', bits]);
      const cool = await startDaemon(['agent', '--port', '0', '--host', '127.0.0.1', '--cores', '1', '--throttle-path', fixture('no-such-throttle-file')]);
      daemons.push(hot, cool);
      // On loopback the dashboard needs no login.
      const port = await freeLoopbackPort();
      coordinator = await startDaemon([
        'coordinator',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--dashboard-port',
        String(port),
        '--agent',
        hot.address,
        '--agent',
        cool.address,
      ]);
      daemons.push(coordinator);
      await coordinator.waitFor(/agent .* up at .*\n[^]*agent .* up at /);
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const res = await page.goto(`http://127.0.0.1:${port}/`);
      expect(res?.status()).toBe(200);
      mkdirSync(OUTPUT, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
      await Promise.all(daemons.map((d) => d.stop('SIGKILL')));
    });

    const nodes = async () => JSON.parse((await runCli(['nodes', '--json', '--coordinator', coordinator.address])).stdout) as Node[];
    const shown = () =>
      page.$$eval('#nodes tbody tr', (rows) =>
        Object.fromEntries(
          rows.map((r) => [
            r.getAttribute('data-node')!,
            { factor: r.querySelector('td.measured .factor')!.textContent!, slowed: r.querySelector('td.measured .slowed')?.textContent ?? '' },
          ]),
        ),
      );

    it('shows the factor `nodes` shows for each node, and why the throttling one is slowed', async () => {
      await page.waitForFunction(
        () => {
          const factors = [...document.querySelectorAll('#nodes td.measured .factor')].map((s) => s.textContent!);
          return factors.length === 2 && factors.every((f) => /^\d+\.\d×$/.test(f)) && document.querySelector('#nodes td.measured .slowed');
        },
        undefined,
        { timeout: 15_000 },
      );
      const listed = await nodes();
      const hotId = listed.find((n) => n.address === hot.address)!.info.id;
      const coolId = listed.find((n) => n.address !== hot.address)!.info.id;
      const page1 = await shown();
      for (const n of listed) expect(page1[n.info.id]!.factor, n.info.id).toBe(`${n.speedFactor.toFixed(1)}×`);
      // Factors are multiples of the slowest node up: one of the two is it.
      expect(Object.values(page1).map((v) => v.factor)).toContain('1.0×');
      expect(page1[hotId]!.slowed).toBe('throttled: soft temperature limit');
      expect(page1[coolId]!.slowed).toBe('');
      // The header says which is which, and `bench`'s column is still there, unmeasured.
      expect(await page.textContent('#nodes thead')).toContain('measured speed');
      expect(await page.locator('#nodes td.speed').allTextContents()).toEqual(['not measured', 'not measured']);
      await page.screenshot({ path: `${OUTPUT}dashboard-speed-throttled.png`, fullPage: true });

      // A since-boot bit only: history, no longer slowed; the factor stays.
      setBits('0x80000');
      await page.waitForFunction(() => !document.querySelector('#nodes td.measured .slowed'), undefined, { timeout: 15_000 });
      expect((await shown())[hotId]!.factor).toBe(page1[hotId]!.factor);
      expect((await nodes()).find((n) => n.info.id === hotId)!.slowed).toBe('');
    });
  });
}
