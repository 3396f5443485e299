/**
 * The in-process Work stream of the embedded cluster: messages arrive in
 * order, on a later turn, normalized as the wire would leave them, with
 * Buffers handed over uncopied; end and cancel reach the other side as
 * grpc-js reports them.
 */
import { describe, expect, it } from 'vitest';
import { inProcessPair, wireNormalizer } from '../src/wire/index.js';
import type { FromAgent, ToAgent } from '../src/wire/index.js';

const pair = () => inProcessPair<ToAgent, FromAgent>(wireNormalizer('ToAgent'), wireNormalizer('FromAgent'));
const turn = () => new Promise((r) => setImmediate(r));

describe('in-process Work stream', () => {
  it('delivers in order on a later turn, with defaults filled in and buffers not copied', async () => {
    const { client, server } = pair();
    const got: ToAgent[] = [];
    server.on('data', (m: ToAgent) => got.push(m));
    const input = Buffer.from('input bytes');
    client.write({ msg: 'ping', ping: { sentAtMs: 1 } } as ToAgent);
    client.write({ msg: 'assign', assign: { job: { jobId: '7' }, tasks: [{ index: 3, input }] } } as unknown as ToAgent);
    expect(got).toEqual([]);
    await turn();
    expect(got.map((m) => m.msg)).toEqual(['ping', 'assign']);
    const assign = got[1]!.msg === 'assign' ? got[1]!.assign : undefined;
    // Fields the sender left out read as the wire's defaults.
    expect(assign?.job.timeLimitMs).toBe(0);
    expect(assign?.job.bundleHash).toBe('');
    expect(assign!.tasks[0]!.attempt).toBe(0);
    expect(assign!.tasks[0]!.input).toBe(input);
  });

  it('an end from the agent reaches the coordinator after the data written before it', async () => {
    const { client, server } = pair();
    const seen: string[] = [];
    client.on('data', (m: FromAgent) => seen.push(`data:${m.msg}`));
    client.on('end', () => seen.push('end'));
    server.write({ msg: 'heartbeat', heartbeat: {} } as FromAgent);
    server.end();
    expect(server.writable).toBe(false);
    await turn();
    expect(seen).toEqual(['data:heartbeat', 'end']);
  });

  it('a cancel from the coordinator: the agent sees cancelled, the coordinator CANCELLED, nothing more is delivered', async () => {
    const { client, server } = pair();
    const agentSide: string[] = [];
    const coordinatorSide: string[] = [];
    server.on('data', () => agentSide.push('data'));
    server.on('cancelled', () => agentSide.push('cancelled'));
    client.on('data', () => coordinatorSide.push('data'));
    client.on('error', (err: { code: number }) => coordinatorSide.push(`error:${err.code}`));
    client.write({ msg: 'ping', ping: { sentAtMs: 1 } } as ToAgent);
    server.write({ msg: 'heartbeat', heartbeat: {} } as FromAgent);
    client.cancel();
    await turn();
    await turn();
    expect(agentSide).toEqual(['cancelled']);
    expect(coordinatorSide).toEqual(['error:1']);
    expect(server.writable).toBe(false);
  });
});
