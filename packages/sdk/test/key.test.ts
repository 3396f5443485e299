import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClusterKey, writeNewKey } from '../src/auth/key.js';
import { ReplayGuard, checkProof, proofFor, signRequest, verifyRequest } from '../src/auth/hmac.js';

const hex = (c: string) => c.repeat(64);

async function keyDir() {
  const dir = await mkdtemp(join(tmpdir(), 'picompute-key-'));
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  };
  return { dir, file };
}

describe('finding the cluster key', () => {
  it('takes --key-file, then PICOMPUTE_KEY_FILE, PICOMPUTE_KEY, the systemd credential, the default file', async () => {
    const { dir, file } = await keyDir();
    const flag = await file('flag.key', hex('a'));
    const envFile = await file('env.key', hex('b'));
    await writeFile(join(dir, 'cluster.key'), hex('d'), { mode: 0o600 });
    await writeNewKey(join(dir, 'config', 'picompute', 'cluster.key'));
    const env = { PICOMPUTE_KEY_FILE: envFile, PICOMPUTE_KEY: hex('c'), CREDENTIALS_DIRECTORY: dir, XDG_CONFIG_HOME: join(dir, 'config') };
    expect((await loadClusterKey({ keyFile: flag, env }))!.key.toString('hex')).toBe(hex('a'));
    expect((await loadClusterKey({ env }))!.source).toBe(envFile);
    expect((await loadClusterKey({ env: { ...env, PICOMPUTE_KEY_FILE: undefined } }))!.source).toBe('PICOMPUTE_KEY');
    expect((await loadClusterKey({ env: { CREDENTIALS_DIRECTORY: dir, XDG_CONFIG_HOME: join(dir, 'config') } }))!.key.toString('hex')).toBe(hex('d'));
    const fallback = await loadClusterKey({ env: { XDG_CONFIG_HOME: join(dir, 'config') } });
    expect(fallback!.source).toBe(join(dir, 'config', 'picompute', 'cluster.key'));
    expect((await stat(fallback!.source)).mode & 0o777).toBe(0o600);
    expect(await loadClusterKey({ env: { XDG_CONFIG_HOME: join(dir, 'nowhere') } })).toBeUndefined();
  });

  it('says what is wrong with a named key file', async () => {
    await expect(loadClusterKey({ keyFile: '/nonexistent/k' })).rejects.toThrow('`keyFile` /nonexistent/k does not exist; make a key with `picompute init`');
    await expect(loadClusterKey({ env: { PICOMPUTE_KEY: 'short' } })).rejects.toThrow('PICOMPUTE_KEY does not hold a picompute cluster key');
  });
});

describe('request proofs', () => {
  const key = Buffer.alloc(32, 1);

  it('accepts a fresh request once, and proves back over its nonce', () => {
    const guard = new ReplayGuard();
    const { header, nonce } = signRequest(key, '/svc/M');
    const verdict = verifyRequest(key, '/svc/M', header, guard);
    expect(verdict).toEqual({ ok: true, nonce });
    expect(checkProof(key, '/svc/M', nonce, proofFor(key, '/svc/M', nonce))).toBe(true);
    expect(checkProof(Buffer.alloc(32, 2), '/svc/M', nonce, proofFor(key, '/svc/M', nonce))).toBe(false);
    expect(checkProof(key, '/svc/M', nonce, undefined)).toBe(false);
  });

  it('stays bounded: a full replay window refuses instead of growing, and expired nonces make room', () => {
    const guard = new ReplayGuard(1000, 3);
    const t = 1_000_000;
    for (let i = 0; i < 3; i++) expect(guard.admit(`n${i}`, t)).toBe('ok');
    expect(guard.admit('n3', t)).toBe('full');
    expect(guard.admit('n3', t + 5000)).toBe('ok');
  });
});
