// W5's second baseline: a Node process with nothing of picompute but what any
// Node agent must do, then idling. It serves and makes one mutual-TLS HTTP/2
// request (the key-derived certificates every picompute connection uses; gRPC
// runs on node:http2) and runs one worker thread, then waits to be measured.
// Prints "ready" once idle.
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

const { clusterTls } = await import(process.argv[2]);
const tls = clusterTls(randomBytes(32));
const pem = { ca: tls.ca, cert: tls.cert, key: tls.key };
const server = http2.createSecureServer({ ...pem, requestCert: true, rejectUnauthorized: true });
server.on('stream', (stream) => {
  stream.respond({ ':status': 200 });
  stream.end('ok');
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
// Certificates carry no host names (see the SDK's cluster-tls.ts): the CA is what is checked.
const client = http2.connect(`https://127.0.0.1:${server.address().port}`, { ...pem, checkServerIdentity: () => undefined });
const request = client.request({ ':path': '/' });
request.resume();
await once(request, 'end');
client.close();
const worker = new Worker('require("node:worker_threads").parentPort.postMessage("up")', { eval: true });
await once(worker, 'message');
await worker.terminate();
process.stdout.write('ready\n');
setTimeout(() => {}, 60_000);
