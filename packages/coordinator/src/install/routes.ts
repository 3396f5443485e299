/**
 * The coordinator's join desk on its dashboard port, open without a login
 * (a joining node has nothing to log in with yet):
 *
 *   GET  /install.sh       the installer, filled in with this coordinator's addresses and version
 *   GET  /install/version  version=, sha256=, time= (Unix s) and missing= lines, for the installer's checks
 *   GET  /picompute.tgz    the release tarball of this coordinator's version
 *   GET  /join/hello       POST /join/exchange: the key exchange of @picompute/sdk/auth's join.ts
 *
 * Nothing here reveals the cluster key to anyone without a join token.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { JoinDesk, JoinError } from '@picompute/sdk/auth';
import type { UsedTokens } from '@picompute/sdk/auth';
import { readBody, sendText } from '@picompute/sdk/http';
import { loadRelease } from './release.js';

export interface InstallRoutesOptions {
  /** Without it the coordinator cannot hand out a key, and says so. */
  key?: Buffer;
  /** Where the join token ids used so far are kept (join-tokens.json). */
  stateDir: string;
  /** The coordinator's gRPC port, which the installed agent dials. */
  grpcPort: number;
  log: (line: string) => void;
}

export type InstallRoutes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

/** Token ids and their use counts, in a small JSON file rewritten on each join (joins are rare). */
function usedTokensFile(stateDir: string): UsedTokens {
  const file = join(stateDir, 'join-tokens.json');
  const counts: Record<string, number> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  return {
    count: (id) => counts[id] ?? 0,
    add(id) {
      counts[id] = (counts[id] ?? 0) + 1;
      writeFileSync(file, JSON.stringify(counts), { mode: 0o600 });
    },
  };
}

/** The host this request was addressed to (what the joining node can reach), without its port. */
function requestHost(req: IncomingMessage): string {
  const host = req.headers.host ?? '127.0.0.1';
  return /^\[/.test(host) ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}

const sendJson = (res: ServerResponse, body: object) => {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};

export function installRoutes(o: InstallRoutesOptions): InstallRoutes {
  const desk = o.key && new JoinDesk(o.key, usedTokensFile(o.stateDir));
  const noKey = 'this coordinator runs without a cluster key (loopback only), so it has none to hand out: start it with a key (`picompute init`)';

  return async (req, res, url) => {
    const path = url.pathname;
    if (path === '/install.sh' || path === '/install/version' || path === '/picompute.tgz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return (sendText(res, 405, `${path} is a GET`, { allow: 'GET, HEAD' }), true);
      const release = loadRelease();
      if (path === '/install/version') {
        const lines = [`version=${release.version}`, `sha256=${release.tarball?.sha256 ?? ''}`, `time=${Math.floor(Date.now() / 1000)}`];
        if (release.missing) lines.push(`missing=${release.missing}`);
        sendText(res, 200, lines.join('\n'));
      } else if (path === '/install.sh') {
        const host = requestHost(req);
        const script = release.installScript
          .replaceAll('@@BASE_URL@@', `http://${req.headers.host ?? `${host}:${url.port}`}`)
          .replaceAll('@@COORDINATOR@@', `${host}:${o.grpcPort}`)
          .replaceAll('@@VERSION@@', release.version);
        res.writeHead(200, { 'content-type': 'text/x-shellscript; charset=utf-8', 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : script);
      } else if (!release.tarball) sendText(res, 404, release.missing!);
      else {
        res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': release.tarball.bytes.length, 'x-sha256': release.tarball.sha256 });
        res.end(req.method === 'HEAD' ? undefined : release.tarball.bytes);
      }
      return true;
    }
    if (path !== '/join/hello' && path !== '/join/exchange') return false;
    if (!desk) return (sendText(res, 409, noKey), true);
    try {
      if (path === '/join/hello') {
        if (req.method !== 'GET') return (sendText(res, 405, '/join/hello is a GET', { allow: 'GET' }), true);
        sendJson(res, desk.hello(url.searchParams.get('nonce')));
      } else {
        if (req.method !== 'POST') return (sendText(res, 405, '/join/exchange is a POST', { allow: 'POST' }), true);
        let body: Record<string, unknown>;
        try {
          body = JSON.parse(await readBody(req, res));
        } catch {
          if (!res.headersSent) sendText(res, 400, 'the join exchange takes a JSON body');
          return true;
        }
        sendJson(res, desk.exchange(body));
        o.log(`join: handed the cluster key to ${req.socket.remoteAddress} (token ${String(body.id)})`);
      }
    } catch (err) {
      if (!(err instanceof JoinError)) throw err;
      if (path === '/join/exchange') o.log(`join: refused ${req.socket.remoteAddress}: ${err.message}`);
      sendText(res, err.status, err.message);
    }
    return true;
  };
}
