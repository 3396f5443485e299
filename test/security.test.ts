/**
 * Nobody runs code on the cluster uninvited: the cluster key on every RPC,
 * daemons that refuse to listen on the network without it, and hostile input
 * that is refused while everybody else is still served.
 */
import { mkdtemp, readFile, stat, writeFile, chmod } from 'node:fs/promises';
import { createServer, connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@picompute/agent';
import { startCoordinator } from '@picompute/coordinator';
import type { Coordinator } from '@picompute/coordinator';
import {
  AUTH_HEADER,
  bindServer,
  channelCredentials,
  clientChannelOptions,
  clusterTls,
  generateKey,
  parseKey,
  serverInterceptors,
  signRequest,
} from '@picompute/sdk/auth';
import { connect, prepareJob } from '@picompute/sdk/client';
import { wireServices } from '@picompute/sdk/wire';
import type { FromAgent, ToAgent } from '@picompute/sdk/wire';
import { fixture, KEY_FILE, makeKeyFile, runCli, startDaemon, stateDir } from './support/cli.js';

const quiet = () => {};

/** One TLS handshake with the certificate a holder of `keyFile`'s key makes: 'accepted' or 'refused' (by either side). */
async function handshake(address: string, keyFile: string): Promise<'accepted' | 'refused'> {
  const own = clusterTls(parseKey(await readFile(keyFile, 'utf8'), keyFile));
  const [host, port] = [address.replace(/:\d+$/, '').replace('0.0.0.0', '127.0.0.1'), Number(address.split(':').pop())];
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      ca: own.ca,
      cert: own.cert,
      key: own.key,
      servername: 'picompute',
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    // In TLS 1.3 the server judges the client's certificate after the client is done: wait for its verdict.
    socket.once('secureConnect', () =>
      socket.once('data', () => {
        resolve('accepted');
        socket.destroy();
      }),
    );
    socket.once('error', () => resolve('refused'));
    socket.once('close', () => resolve('refused'));
  });
}

describe('picompute init', () => {
  it('writes a 256-bit key only its owner can read, and will not overwrite it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-init-'));
    const keyFile = join(dir, 'nested', 'cluster.key');
    const r = await runCli(['init', '--key-file', keyFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`cluster key written to ${keyFile}`);
    expect(r.stdout).toContain('scp -p');
    expect((await readFile(keyFile, 'utf8')).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const again = await runCli(['init', '--key-file', keyFile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists; keep it');
  });
});

describe('daemons without a key', () => {
  for (const daemon of ['agent', 'coordinator']) {
    it(`a ${daemon} on all interfaces refuses to start and says how to fix it`, async () => {
      const r = await runCli([daemon, '--port', '0'], { env: { PICOMPUTE_KEY_FILE: undefined }, timeoutMs: 10_000 });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`no cluster key: a ${daemon} listening on 0.0.0.0 would run code for anyone`);
      expect(r.stderr).toContain('picompute init');
      expect(r.stderr).toContain('--host 127.0.0.1');
    });
  }

  it('a daemon on loopback needs no key', async () => {
    const agent = await startDaemon(['agent', '--host', '127.0.0.1', '--port', '0'], { env: { PICOMPUTE_KEY_FILE: undefined } });
    expect(agent.address).toMatch(/^127\.0\.0\.1:\d+$/);
    await agent.stop();
  });

  it('a key file others can read is refused, naming the fix', async () => {
    const keyFile = makeKeyFile('too-open.key');
    await chmod(keyFile, 0o644);
    const r = await runCli(['agent', '--port', '0', '--key-file', keyFile], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`can be read by other users (mode 644); run: chmod 600 ${keyFile}`);
  });

  it('a key file that is not a key is refused', async () => {
    const keyFile = makeKeyFile('garbage.key');
    await writeFile(keyFile, 'hello\n');
    const r = await runCli(['coordinator', '--port', '0', '--key-file', keyFile], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not hold a picompute cluster key (64 hex characters)');
  });
});

describe('a keyed cluster', () => {
  let agent: Awaited<ReturnType<typeof startDaemon>>;
  let coordinator: Awaited<ReturnType<typeof startDaemon>>;

  beforeAll(async () => {
    agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', agent.address.replace('0.0.0.0', '127.0.0.1')]);
    await coordinator.waitFor(/agent \S+ up at/);
  });
  afterAll(async () => {
    await Promise.all([agent?.stop('SIGKILL'), coordinator?.stop('SIGKILL')]);
  });

  const coordAddress = () => coordinator.address.replace('0.0.0.0', '127.0.0.1');

  it('runs a job for a client with the key', async () => {
    const r = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', coordAddress()]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
  });

  it('a client with another key is told the server is not part of its cluster, not "cannot reach", and gets no result', async () => {
    const r = await runCli(['submit', fixture('word-lengths.ts'), '--coordinator', coordAddress(), '--key-file', makeKeyFile('other.key')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`the coordinator at ${coordAddress()}: this server is not part of your cluster (it could not prove the cluster key)`);
    expect(r.stderr).not.toContain('cannot reach');
  });

  it('a client with no key is told the coordinator requires one', async () => {
    const r = await runCli(['submit', fixture('word-lengths.ts'), '--coordinator', coordAddress()], { env: { PICOMPUTE_KEY_FILE: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not speak to a client without the cluster key');
    expect(r.stderr).toContain('this client has no cluster key');
  });

  it('a stranger agent with another key is ignored (logged once) and gets no tasks', async () => {
    const stranger = await startDaemon(['agent', '--port', '0', '--cores', '1', '--key-file', makeKeyFile('stranger.key')]);
    const coord = await startDaemon([
      'coordinator',
      '--port',
      '0',
      '--agent',
      agent.address.replace('0.0.0.0', '127.0.0.1'),
      '--agent',
      stranger.address.replace('0.0.0.0', '127.0.0.1'),
    ]);
    try {
      await coord.waitFor(/ignoring agent at \S+: this server is not part of your cluster \(it could not prove the cluster key\)/);
      await coord.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', fixture('slow-square.ts'), '--json', '--arg', 'n=6', '--coordinator', coord.address.replace('0.0.0.0', '127.0.0.1')]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).stats.nodes).toEqual([agent.output().match(/agent (\S+) listening/)![1]]);
      await stranger.waitFor(
        new RegExp(
          /refused a TLS connection from 127\.0\.0\.1: it hung up in the TLS handshake /.source +
            /\(it does not trust this cluster: another key, or not picompute\) \(logged once per peer\)/.source,
        ),
      );
      // More strangers' handshakes from the same host add no line: the log cannot be flooded.
      for (let i = 0; i < 3; i++) expect(await handshake(stranger.address, makeKeyFile(`stranger-${i}.key`))).toBe('refused');
      await new Promise((r) => setTimeout(r, 300)); // let the daemon's output arrive
      expect(stranger.output().match(/refused a TLS connection/g)).toHaveLength(1);
    } finally {
      await Promise.all([stranger.stop('SIGKILL'), coord.stop('SIGKILL')]);
    }
  });
});

describe('TLS', () => {
  it('init --tls makes a CA and node certificates; a mutual-TLS cluster runs jobs, and a plain client is turned away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-tls-'));
    const keyFile = join(dir, 'cluster.key');
    const init = await runCli(['init', '--key-file', keyFile, '--tls', '--node', 'localhost', '--tls-dir', join(dir, 'tls')]);
    expect(init.code).toBe(0);
    expect(init.stdout).toContain('TLS: a CA and certificates for localhost, client');
    expect((await stat(join(dir, 'tls', 'ca.key'))).mode & 0o777).toBe(0o600);
    const node = (name: string) => [
      '--key-file',
      keyFile,
      '--tls-cert',
      join(dir, 'tls', `${name}.crt`),
      '--tls-key',
      join(dir, 'tls', `${name}.key`),
      '--tls-ca',
      join(dir, 'tls', 'ca.crt'),
    ];
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1', ...node('localhost')]);
    const port = agent.address.split(':').pop();
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', `localhost:${port}`, ...node('localhost')]);
    const target = `localhost:${coordinator.address.split(':').pop()}`;
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const ok = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', target, ...node('client')]);
      expect(ok.stderr).toBe('');
      expect(JSON.parse(ok.stdout).result).toEqual({ a: 12, b: 15, c: 6 });
      const plain = await runCli(['submit', fixture('word-lengths.ts'), '--coordinator', target, '--key-file', keyFile]);
      expect(plain.code).toBe(2);
      expect(plain.stderr).toContain(`the coordinator at ${target}: this server is not part of your cluster`);
      expect(plain.stderr).toContain('--tls-ca');
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

/** Raw gRPC against an in-process coordinator, to send what no honest client would. */
describe('hostile calls', () => {
  const key = generateKey();
  let coordinator: Coordinator;
  let agentClose: () => Promise<void>;
  let raw: grpc.Client;
  const SUBMIT = '/picompute.v1.CoordinatorService/Submit';
  const LIST = '/picompute.v1.CoordinatorService/ListNodes';

  beforeAll(async () => {
    coordinator = await startCoordinator({ security: { key }, log: quiet, stateDir: stateDir(), maxMessageBytes: 1024 * 1024, uploadIdleMs: 500 });
    const agent = await startAgent({ security: { key }, cores: 1, log: quiet, cacheDir: await mkdtemp(join(tmpdir(), 'picompute-hostile-')) });
    agentClose = agent.close;
    coordinator.addAgent(agent.address);
    // A key holder's connection (TLS from the key) that sends what no honest client would.
    raw = new grpc.Client(coordinator.address, channelCredentials({ key }), { ...clientChannelOptions({}), 'grpc.ssl_target_name_override': 'picompute' });
  });
  afterAll(async () => {
    raw?.close();
    await coordinator?.close();
    await agentClose?.();
  });

  const id = (b: Buffer) => b;
  function call(method: string, body: Buffer, auth: string | undefined): Promise<{ code: grpc.status; details: string }> {
    const md = new grpc.Metadata();
    if (auth !== undefined) md.set(AUTH_HEADER, auth);
    return new Promise((resolve) =>
      raw.makeUnaryRequest(method, id, id, body, md, { deadline: Date.now() + 5000 }, (err) =>
        resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '' }),
      ),
    );
  }

  /** The proof that every other client is still served. */
  async function stillServes(): Promise<void> {
    const client = await connect({ coordinator: coordinator.address, security: { key } });
    try {
      const job = await client.submit(fixture('word-lengths.ts'));
      expect(await job.result()).toEqual({ a: 12, b: 15, c: 6 });
    } finally {
      client.close();
    }
  }

  it('refuses a call with no key, a wrong key, a stale timestamp or a replayed nonce, saying which', async () => {
    expect(await call(LIST, Buffer.alloc(0), undefined)).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('no cluster key presented'),
    });
    expect(await call(LIST, Buffer.alloc(0), signRequest(generateKey(), LIST).header)).toEqual({
      code: grpc.status.UNAUTHENTICATED,
      details: 'wrong cluster key',
    });
    expect(await call(LIST, Buffer.alloc(0), 'v1.garbage')).toEqual({ code: grpc.status.UNAUTHENTICATED, details: 'malformed cluster key proof' });
    const stale = await call(LIST, Buffer.alloc(0), signRequest(key, LIST, Date.now() - 10 * 60_000).header);
    expect(stale.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(stale.details).toMatch(/timestamp is 60\d s off this node's clock \(allowed ±120 s\)/);
    // A proof recorded for one method does not open another.
    expect(await call(SUBMIT, Buffer.alloc(0), signRequest(key, LIST).header)).toEqual({ code: grpc.status.UNAUTHENTICATED, details: 'wrong cluster key' });
    const recorded = signRequest(key, LIST).header;
    expect((await call(LIST, Buffer.alloc(0), recorded)).code).toBe(grpc.status.OK);
    expect(await call(LIST, Buffer.alloc(0), recorded)).toEqual({
      code: grpc.status.UNAUTHENTICATED,
      details: 'replayed request refused (its nonce was seen before)',
    });
    await stillServes();
  });

  it('answers malformed protobuf bytes with an error and keeps serving', async () => {
    // A varint cut off in the middle.
    const garbage = Buffer.from([0x08, 0xff]);
    const r = await call(SUBMIT, garbage, signRequest(key, SUBMIT).header);
    expect(r.code).not.toBe(grpc.status.OK);
    expect(r.code).toBe(grpc.status.INTERNAL);
    expect(r.details).toMatch(/deserializ/i);
    await stillServes();
  });

  it('refuses a message over the configured limit with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const r = await call(LIST, Buffer.alloc(2 * 1024 * 1024, 1), signRequest(key, LIST).header);
    expect(r.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    await stillServes();
  });

  it('drops an upload stream that opens and never sends, serving others meanwhile', async () => {
    const md = new grpc.Metadata();
    md.set(AUTH_HEADER, signRequest(key, '/picompute.v1.CoordinatorService/PutBlob').header);
    const silent = new Promise<grpc.ServiceError | null>((resolve) => {
      raw.makeClientStreamRequest('/picompute.v1.CoordinatorService/PutBlob', id, id, md, {}, (err) => resolve(err));
    });
    await stillServes();
    const err = await silent;
    expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(err?.details).toContain('upload sent nothing for 0.5s; dropped');
  });

  it('refuses a blob whose bytes do not match its hash', async () => {
    const client = await connect({ coordinator: coordinator.address, security: { key } });
    try {
      // A job file the coordinator has never seen, so its bundle (here tampered with) must go up.
      const file = join(await mkdtemp(join(tmpdir(), 'picompute-tamper-')), 'job.ts');
      await writeFile(file, `// ${Math.random()}\n${await readFile(fixture('word-lengths.ts'), 'utf8')}`);
      const job = await prepareJob(file);
      const tampered = Buffer.concat([job.bundle, Buffer.from('\nprocess.exit(1);\n')]);
      await expect(client.submitPrepared({ ...job, bundle: tampered })).rejects.toThrow(/blob named \w+… has sha256 \w+…: refused/);
    } finally {
      client.close();
    }
  });

  it('a flood of idle and garbage connections leaves the coordinator serving', async () => {
    const port = Number(coordinator.address.split(':').pop());
    const sockets: Socket[] = [];
    for (let i = 0; i < 300; i++) {
      const s = tcpConnect({ host: '127.0.0.1', port });
      s.on('error', () => {});
      if (i % 2) s.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      sockets.push(s);
    }
    try {
      await stillServes();
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe('what an agent gives job code', () => {
  it('a task cannot read the cluster key from its environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'picompute-env-'));
    const job = join(dir, 'peek.ts');
    await writeFile(
      job,
      "import { defineJob } from '@picompute/sdk';\n" +
        "export default defineJob({ inputs: () => [0], map: () => [process.env.PICOMPUTE_KEY_FILE ?? 'none', " +
        "process.env.PICOMPUTE_KEY ?? 'none', typeof process.env.PATH] });\n",
    );
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    const coordinator = await startDaemon(['coordinator', '--port', '0', '--agent', agent.address.replace('0.0.0.0', '127.0.0.1')]);
    try {
      await coordinator.waitFor(/agent \S+ up at/);
      const r = await runCli(['submit', job, '--json', '--coordinator', coordinator.address.replace('0.0.0.0', '127.0.0.1')]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).result).toEqual([['none', 'none', 'string']]);
    } finally {
      await Promise.all([agent.stop('SIGKILL'), coordinator.stop('SIGKILL')]);
    }
  });
});

describe('a rogue agent with the key', () => {
  it('a coordinator that ends the submit stream without naming the job: the client says so', async () => {
    const key = generateKey();
    const { CoordinatorService } = wireServices();
    const server = new grpc.Server({ interceptors: serverInterceptors({ key }) });
    server.addService(CoordinatorService.service, {
      // Takes the submit, then closes the stream with no event: no job id ever comes back.
      submitWatch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
    });
    const port = await bindServer(server, '127.0.0.1:0', { key }, 'rogue');
    const client = await connect({ coordinator: `127.0.0.1:${port}`, security: { key } });
    try {
      await expect(client.submit(fixture('values.ts'), { args: { n: '2' } })).rejects.toThrow(
        `the coordinator at 127.0.0.1:${port} closed the submit stream without naming the job`,
      );
    } finally {
      client.close();
      server.forceShutdown();
    }
  });

  it('a result that cannot be decoded fails at the client with the task named, and the coordinator stays up', async () => {
    const key = generateKey();
    const coordinator = await startCoordinator({ security: { key }, log: quiet, stateDir: stateDir() });
    const { AgentService } = wireServices();
    const server = new grpc.Server({ interceptors: serverInterceptors({ key }) });
    server.addService(AgentService.service, {
      work(call: grpc.ServerDuplexStream<ToAgent, FromAgent>) {
        call.write({ msg: 'hello', hello: { id: 'rogue', hostname: 'rogue', cores: 1, memoryMb: 1, arch: 'x', nodeVersion: 'v0', version: '0', labels: [] } });
        call.on('data', (m: ToAgent) => {
          if (m.msg !== 'assign') return;
          const results = m.assign.tasks.map((t) => ({
            jobId: m.assign.job.jobId,
            index: t.index,
            attempt: t.attempt,
            ok: true,
            output: Buffer.from([0xff, 0x0f, 0x99, 0x99]),
            error: null,
            logs: [],
            durationMs: 1,
          }));
          call.write({ msg: 'results', results: { results } });
        });
      },
      info: (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, {}),
    });
    const port = await bindServer(server, '127.0.0.1:0', { key }, 'rogue');
    coordinator.addAgent(`127.0.0.1:${port}`);
    const client = await connect({ coordinator: coordinator.address, security: { key } });
    try {
      const job = await client.submit(fixture('values.ts'), { args: { n: '2' } });
      await expect(job.result()).rejects.toThrow(/task 0's output cannot be decoded \(cannot decode value: /);
      expect((await client.nodes())[0]!.info.id).toBe('rogue');
    } finally {
      client.close();
      server.forceShutdown();
      await coordinator.close();
    }
  });
});

/**
 * The attacks of a stranger on the LAN without the key, as they were
 * carried out against the per-request header alone: each must now fail
 * before a single request, header or byte of job data reaches anyone.
 */
describe('a stranger without the key', () => {
  /** A plain TCP listener that records every byte a victim sends it and answers garbage. */
  async function recorder(): Promise<{ address: string; bytes: () => Buffer; close(): void }> {
    const chunks: Buffer[] = [];
    const server = createServer((socket) => {
      socket.on('data', (d) => {
        chunks.push(d);
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, bytes: () => Buffer.concat(chunks), close: () => server.close() };
  }

  /** A gRPC server of either service that records the metadata of every call it gets; keyless, or with its own key's TLS. */
  async function fakeServer(security: { key?: Buffer }): Promise<{ address: string; calls: grpc.Metadata[]; close(): void }> {
    const calls: grpc.Metadata[] = [];
    const { AgentService, CoordinatorService } = wireServices();
    const server = new grpc.Server();
    const record = (call: { metadata: grpc.Metadata; end?: () => void }, cb?: (err: { code: grpc.status; details: string }) => void) => {
      calls.push(call.metadata);
      cb?.({ code: grpc.status.NOT_FOUND, details: `bundle ${'0'.repeat(8)}… was not uploaded` });
      call.end?.();
    };
    server.addService(AgentService.service, { work: record, info: record });
    server.addService(CoordinatorService.service, Object.fromEntries(Object.keys(CoordinatorService.service).map((m) => [m, record])));
    const port = await bindServer(server, '127.0.0.1:0', security, 'fake');
    return { address: `127.0.0.1:${port}`, calls, close: () => server.forceShutdown() };
  }

  it("the coordinator's dial of a fake agent hands it no header to relay, and a relayed header does not open the real agent", async () => {
    const agent = await startDaemon(['agent', '--port', '0', '--cores', '1']);
    const agentAddress = agent.address.replace('0.0.0.0', '127.0.0.1');
    const fakes = [await fakeServer({}), await fakeServer({ key: generateKey() })];
    const coord = await startDaemon(['coordinator', '--port', '0', '--agent', agentAddress, ...fakes.flatMap((f) => ['--agent', f.address])]);
    try {
      for (const f of fakes)
        await coord.waitFor(new RegExp(`ignoring agent at ${f.address}: this server is not part of your cluster \\(it could not prove the cluster key\\)`));
      await coord.waitFor(/agent \S+ up at/);
      // Neither fake got a call, so neither holds a header of ours.
      expect(fakes.map((f) => f.calls.length)).toEqual([0, 0]);
      // Even a header the attacker somehow had (here: made with the key) opens nothing without the key's certificate.
      const stolen = signRequest(await keyOf(), '/picompute.v1.AgentService/Work').header;
      for (const credentials of [grpc.credentials.createInsecure(), channelCredentials({ key: generateKey() })]) {
        const err = await workWith(agentAddress, credentials, stolen);
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
      }
      await agent.waitFor(/refused a TLS connection from 127\.0\.0\.1: it showed no certificate of this cluster \(wrong version number\)/);
      expect(agent.output()).not.toMatch(/Assign|running task/i);
    } finally {
      for (const f of fakes) f.close();
      await Promise.all([agent.stop('SIGKILL'), coord.stop('SIGKILL')]);
    }
  });

  it('a fake coordinator gets no bundle, input or header from a client, which says the server is not part of its cluster', async () => {
    const tcp = await recorder();
    const tls = await fakeServer({ key: generateKey() });
    try {
      for (const address of [tcp.address, tls.address]) {
        const r = await runCli(['submit', fixture('word-lengths.ts'), '--json', '--coordinator', address]);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain(`the coordinator at ${address}: this server is not part of your cluster (it could not prove the cluster key)`);
      }
      // All the recorder saw is a TLS ClientHello: nothing readable, no header, no job source.
      const seen = tcp.bytes();
      expect(seen[0]).toBe(0x16);
      expect(seen.includes(AUTH_HEADER)).toBe(false);
      expect(seen.includes('defineJob')).toBe(false);
      expect(tls.calls).toHaveLength(0);
    } finally {
      tcp.close();
      tls.close();
    }
  });

  it('a header captured on one connection opens nothing on another: same server, after its restart, or another node', async () => {
    const key = generateKey();
    const state = stateDir();
    const cacheDir = await mkdtemp(join(tmpdir(), 'picompute-replay-'));
    const LIST = '/picompute.v1.CoordinatorService/ListNodes';
    const header = signRequest(key, LIST).header;
    const strangers = () => [grpc.credentials.createInsecure(), channelCredentials({ key: generateKey() })];
    let coordinator = await startCoordinator({ security: { key }, log: quiet, stateDir: state });
    const agent = await startAgent({ security: { key }, cores: 1, log: quiet, cacheDir });
    try {
      // The header is good: a key holder's connection gets through with it, once.
      expect((await unaryWith(coordinator.address, channelCredentials({ key }), LIST, header)).code).toBe(grpc.status.OK);
      for (const credentials of strangers()) expect((await unaryWith(coordinator.address, credentials, LIST, header)).code).toBe(grpc.status.UNAVAILABLE);
      for (const credentials of strangers())
        expect((await unaryWith(agent.address, credentials, '/picompute.v1.AgentService/Info', header)).code).toBe(grpc.status.UNAVAILABLE);
      await coordinator.close();
      coordinator = await startCoordinator({ security: { key }, log: quiet, stateDir: state });
      for (const credentials of strangers()) expect((await unaryWith(coordinator.address, credentials, LIST, header)).code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      await coordinator.close();
      await agent.close();
    }
  });
});

/** The key every test daemon uses (test/support/cli.ts points PICOMPUTE_KEY_FILE at it). */
async function keyOf(): Promise<Buffer> {
  return parseKey(await readFile(KEY_FILE, 'utf8'), KEY_FILE);
}

function unaryWith(address: string, credentials: grpc.ChannelCredentials, method: string, auth: string): Promise<{ code: grpc.status; details: string }> {
  const client = new grpc.Client(address, credentials, { 'grpc.ssl_target_name_override': 'picompute' });
  const md = new grpc.Metadata();
  md.set(AUTH_HEADER, auth);
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      method,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      md,
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        resolve({ code: err?.code ?? grpc.status.OK, details: err?.details ?? '' });
      },
    ),
  );
}

function workWith(address: string, credentials: grpc.ChannelCredentials, auth: string): Promise<{ code: grpc.status }> {
  const client = new grpc.Client(address, credentials, { 'grpc.ssl_target_name_override': 'picompute' });
  const md = new grpc.Metadata();
  md.set(AUTH_HEADER, auth);
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      '/picompute.v1.AgentService/Work',
      (b: Buffer) => b,
      (b: Buffer) => b,
      md,
      { deadline: Date.now() + 5000 },
    );
    call.on('data', () => {});
    call.on('error', (err: grpc.ServiceError) => {
      client.close();
      resolve({ code: err.code });
    });
    call.on('end', () => resolve({ code: grpc.status.OK }));
  });
}
