/**
 * The dashboard: a static page (no build step; uPlot served from
 * node_modules) fed by one Server-Sent Events stream of DashboardModel
 * snapshots, once a second, computed once for all viewers and only while
 * someone watches. On its own port (--dashboard-port, default 7702).
 *
 * Bound to loopback it needs no login (like the daemons' keyless loopback
 * mode). Anywhere else every request needs the session cookie that
 * GET /login?token=… sets (see ./auth.ts): without it, 401. Read-only except
 * cancel, drain and resume (POST, session + CSRF token in x-csrf-token).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isLoopback } from '@picompute/sdk/auth';
import { listenHttp, sendText } from '@picompute/sdk/http';
import type { HttpServer } from '@picompute/sdk/http';
import type { Cluster } from '../cluster.js';
import { UserError } from '../cluster.js';
import { DashboardAuth, SESSION_COOKIE, SESSION_MS, cookie } from './auth.js';
import { DashboardModel } from './model.js';
import { TraceRecorder } from './trace.js';

export const DEFAULT_DASHBOARD_PORT = 7702;
const SNAPSHOT_MS = 1000;
/** Viewers at once; more get 503 (each holds a connection and a share of every snapshot). */
const MAX_VIEWERS = 32;

export interface DashboardOptions {
  host: string;
  port: number;
  /** Needed unless `host` is loopback. */
  key?: Buffer;
  log: (line: string) => void;
  /** Routes served before the dashboard's own, without a login (the join desk, ../install/routes.ts); true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

export interface Dashboard extends HttpServer {
  /** The model's snapshot, for benchmarks and tests that look without a browser. */
  readonly viewers: () => number;
}

/** The files the page is made of: ours from the package's dashboard/ folder, uPlot's from its package. */
function staticFiles(): Record<string, { path: string; type: string }> {
  // Resolved through the package name so it works from dist/ and from the CLI's bundle alike.
  const require = createRequire(import.meta.url);
  const own = join(dirname(require.resolve('@picompute/coordinator/package.json')), 'dashboard');
  const uplot = dirname(createRequire(join(own, '..', 'package.json')).resolve('uplot/dist/uPlot.iife.min.js'));
  return {
    '/': { path: join(own, 'index.html'), type: 'text/html; charset=utf-8' },
    '/app.js': { path: join(own, 'app.js'), type: 'text/javascript; charset=utf-8' },
    '/style.css': { path: join(own, 'style.css'), type: 'text/css; charset=utf-8' },
    '/uPlot.iife.min.js': { path: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
    '/uPlot.min.css': { path: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
}

export async function serveDashboard(cluster: Cluster, o: DashboardOptions): Promise<Dashboard> {
  const open = isLoopback(o.host);
  if (!open && !o.key) throw new Error(`the dashboard on ${o.host} needs the cluster key (or bind it to 127.0.0.1 with \`dashboard.host\`)`);
  const auth = o.key ? new DashboardAuth(o.key) : undefined;
  const model = new DashboardModel(cluster);
  const traces = new TraceRecorder();
  cluster.events.on('taskEnded', (node, r) => traces.record(r.jobId, node, r));
  const files = staticFiles();
  const viewers = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;

  const broadcast = () => {
    const data = `data: ${JSON.stringify(model.snapshot())}\n\n`;
    for (const res of viewers) res.write(data);
  };

  /** The session of this request, '' on a loopback dashboard, undefined when there is none. */
  const session = (req: IncomingMessage): string | undefined => {
    if (open) return '';
    const value = cookie(req.headers.cookie, SESSION_COOKIE);
    return auth!.checkSession(value) ? value : undefined;
  };

  /** A login token in `Authorization: Bearer …` (what `picompute trace` sends): good for one request. */
  const bearer = (req: IncomingMessage): boolean => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    return open || Boolean(m && auth && !auth.checkLogin(m[1]!));
  };

  const refuse = (res: ServerResponse, why = 'no session') =>
    sendText(res, 401, `401 Unauthorized: ${why}. Open the login URL that \`picompute dashboard\` prints (it needs the cluster key).`, {
      'www-authenticate': 'Bearer realm="picompute"',
    });

  const act = async (req: IncomingMessage, res: ServerResponse, s: string, what: string, arg: string) => {
    if (!open && !auth!.checkCsrf(s, req.headers['x-csrf-token'] as string | undefined))
      return sendText(res, 403, '403 Forbidden: missing or wrong CSRF token (reload the page)');
    try {
      const out = what === 'cancel' ? cluster.cancel(arg) : cluster.drain(arg, what === 'drain');
      o.log(`dashboard: ${what} ${arg}`);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(out));
      broadcast();
    } catch (err) {
      sendText(res, err instanceof UserError ? (err.notFound ? 404 : 400) : 500, (err as Error).message);
    }
  };

  const server = await listenHttp(o.host, o.port, 'dashboard (`dashboard.host`/`dashboard.port`)', async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    if (o.routes && (await o.routes(req, res, url))) return;
    if (path === '/login' && req.method === 'GET') {
      if (open) return void res.writeHead(303, { location: '/' }).end();
      const why = auth!.checkLogin(url.searchParams.get('token') ?? '');
      if (why) return refuse(res, why);
      res.writeHead(303, {
        location: '/',
        'set-cookie': `${SESSION_COOKIE}=${auth!.newSession()}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`,
        'cache-control': 'no-store',
      });
      return void res.end();
    }
    const trace = /^\/api\/trace\/(\d+)$/.exec(path);
    if (trace && req.method === 'GET') {
      if (session(req) === undefined && !bearer(req)) return refuse(res);
      const id = trace[1]!;
      let summary: ReturnType<Cluster['summary']>;
      try {
        summary = cluster.summary(id);
      } catch (err) {
        return sendText(res, 404, (err as Error).message);
      }
      if (!['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL'].includes(summary.state))
        return sendText(res, 409, `job ${id} is ${summary.state}: a trace is made of a finished job; wait for it to end`);
      const body = traces.chromeTrace(id, summary.name);
      if (!body)
        return sendText(
          res,
          404,
          `job ${id} ran no task this coordinator saw with its dashboard on (traces are kept in memory, for the last jobs, since the coordinator started)`,
        );
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end(JSON.stringify(body));
    }
    const s = session(req);
    if (s === undefined) return refuse(res);
    const action = /^\/api\/(cancel|drain|resume)\/([^/]+)$/.exec(path);
    if (action) {
      if (req.method !== 'POST') return sendText(res, 405, `${action[1]} is a POST`, { allow: 'POST' });
      return act(req, res, s, action[1]!, decodeURIComponent(action[2]!));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendText(res, 405, 'the dashboard is read-only except POST /api/cancel|drain|resume', { allow: 'GET, HEAD' });
    if (path === '/api/session') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      return void res.end(JSON.stringify({ csrf: open ? '' : auth!.csrf(s), login: !open }));
    }
    if (path === '/events') {
      if (viewers.size >= MAX_VIEWERS) return sendText(res, 503, `already ${MAX_VIEWERS} viewers; close a dashboard tab`);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      viewers.add(res);
      res.write(`retry: 2000\ndata: ${JSON.stringify(model.snapshot())}\n\n`);
      timer ??= setInterval(broadcast, SNAPSHOT_MS);
      req.on('close', () => {
        viewers.delete(res);
        if (!viewers.size) clearInterval(timer), (timer = undefined);
      });
      return;
    }
    const file = files[path];
    if (!file) return sendText(res, 404, `not found: ${path}`);
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : await readFile(file.path));
  });
  o.log(`dashboard at ${server.url}/${open ? ' (loopback: no login)' : ' (login: `picompute dashboard`)'}`);
  return {
    url: server.url,
    port: server.port,
    viewers: () => viewers.size,
    async close() {
      clearInterval(timer);
      for (const v of viewers) v.end();
      await server.close();
    },
  };
}
