/**
 * The small HTTP servers the daemons run beside gRPC (`/metrics` on both,
 * the coordinator's dashboard): hardened the same way, so hostile input is
 * answered, not suffered. Requests have small headers and no body (GET and
 * HEAD, plus a few small POSTs for the dashboard), so anything bigger or
 * slower is refused by Node's parser (431 / 400 / 408) before it reaches a handler.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request head, bytes: a browser's cookies and a login URL fit easily. */
const MAX_HEADER_BYTES = 8192;
/** Largest request body a handler may read, bytes. */
export const MAX_BODY_BYTES = 4096;

export interface HttpServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Answers 503 from now on, then stops listening and drops idle connections (open event streams included). */
  close(): Promise<void>;
}

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

/** Reads a small request body; rejects (after answering 413) when it is larger than MAX_BODY_BYTES. */
export function readBody(req: IncomingMessage, res: ServerResponse): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        sendText(res, 413, `request body over ${MAX_BODY_BYTES} bytes`, { connection: 'close' });
        req.destroy();
        reject(new Error('body too large'));
      } else parts.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** Listens on host:port (0 picks one); `what` names the server in errors, e.g. "metrics (`metricsPort`)". */
export async function listenHttp(host: string, port: number, what: string, handler: HttpHandler): Promise<HttpServer> {
  let closing = false;
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    if (closing) return sendText(res, 503, 'shutting down', { connection: 'close' });
    Promise.resolve(handler(req, res)).catch((err: Error) => sendText(res, 500, `internal error: ${err.message}`));
  });
  // Idle keep-alive connections are let go quickly: a scraper reconnects anyway.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new Error(
          err.code === 'EADDRINUSE' ? `${what}: ${host}:${port} is in use; choose another port` : `${what}: cannot listen on ${host}:${port}: ${err.message}`,
        ),
      );
    });
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Event streams never go idle on their own.
        setTimeout(() => server.closeAllConnections(), 200).unref();
      });
    },
  };
}

/** Serves GET /metrics from `render` (Prometheus text format); everything else is 404 or 405. */
export function metricsHandler(render: () => Promise<{ text: string; contentType: string }>): HttpHandler {
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return sendText(res, 404, 'not found: metrics are at /metrics');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'only GET /metrics', { allow: 'GET, HEAD', connection: 'close' });
    const { text, contentType } = await render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
}
