/**
 * A throwaway PostgreSQL for benchmarks (Debian's `postgresql`): initdb under
 * a temp folder, a free loopback port, run as the `postgres` OS user when
 * root; trust authentication on loopback (the tests cover passwords).
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function startPostgres() {
  const root = '/usr/lib/postgresql';
  const version =
    existsSync(root) &&
    readdirSync(root)
      .sort((a, b) => b - a)
      .find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  if (!version) throw new Error("PostgreSQL's server is not installed (Debian: apt-get install postgresql)");
  const bin = join(root, version, 'bin');
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'picompute-bench-pg-'));
  chmodSync(dir, 0o755);
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])));
  const run = (cmd, args) =>
    execFileSync(asRoot ? 'runuser' : join(bin, cmd), asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { stdio: 'pipe', cwd: dir });
  const port = await freePort();
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  let n = 0;
  return {
    database() {
      const name = `bench_${n++}`;
      run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-XAtq', '-c', `CREATE DATABASE ${name}`]);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop() {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
