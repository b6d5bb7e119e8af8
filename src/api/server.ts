/** The Engine API HTTP server: version prefix, routing, docker's error shape, hijacked upgrades. */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from '../common/errors';
import { log } from '../common/log';
import { commonHeaders, type Context } from './http';
import { Router, splitVersion } from './router';

export function createApiServer(router: Router): http.Server {
  const server = http.createServer({ keepAliveTimeout: 0 });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    for (const [k, v] of Object.entries(commonHeaders())) res.setHeader(k, v);
    void dispatch(router, req, { res });
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void dispatch(router, req, { upgrade: { socket, head } });
  });

  return server;
}

async function dispatch(router: Router, req: http.IncomingMessage, io: Pick<Context, 'res' | 'upgrade'>): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://berth');
  const { path } = splitVersion(url.pathname);
  const started = Date.now();
  try {
    const found = router.match(req.method ?? 'GET', path);
    if ('status' in found) {
      throw new ApiError(found.status, found.status === 404 ? `page not found` : `method not allowed`);
    }
    await found.handler({ req, ...io, params: found.params, query: url.searchParams });
  } catch (e) {
    replyError(io, e);
  } finally {
    log.debug('api', { method: req.method, path: url.pathname, ms: Date.now() - started });
  }
}

function replyError(io: Pick<Context, 'res' | 'upgrade'>, e: unknown): void {
  const status = e instanceof ApiError ? e.status : 500;
  const message = e instanceof Error ? e.message : String(e);
  if (status >= 500) log.error('api error', { message, stack: (e as Error)?.stack });
  const body = status === 304 ? '' : JSON.stringify({ message }) + '\n';
  if (io.res) {
    const res = io.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const { socket, hijacked } = io.upgrade!;
  if (socket.destroyed) return;
  if (hijacked) {
    socket.destroy(); // the stream already started: an HTTP error reply is no longer possible
    return;
  }
  const head = Object.entries({ ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n${head}Connection: close\r\n\r\n${body}`);
}
