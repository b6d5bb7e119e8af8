/**
 * The Engine API HTTP server: version prefix, routing, docker's error shape, hijacked upgrades, and the browser
 * guard every request passes first.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { ApiError } from '../common/errors';
import { log } from '../common/log';
import { API_VERSION, commonHeaders, drain, type Context } from './http';
import { Router, splitVersion } from './router';

/** How one listener is reached: over TLS or not, and which Host names its clients may use. */
export interface ListenerOptions {
  /** node:tls server options (cert, key, ca, requestCert, rejectUnauthorized); unset serves plain HTTP. */
  tls?: https.ServerOptions;
  /**
   * Host header names (lower case, without port) this listener answers; unset accepts any (unix sockets: docker's
   * clients send `docker`, `api.moby.localhost`, `localhost`).
   */
  allowedHosts?: string[];
}

export function createApiServer(router: Router, listener: ListenerOptions = {}): http.Server {
  // allowHalfOpen: a hijacking client without stdin half-closes (over TLS a close_notify); output must go on.
  const server = listener.tls
    ? https.createServer({ ...listener.tls, keepAliveTimeout: 0, allowHalfOpen: true } as https.ServerOptions)
    : http.createServer({ keepAliveTimeout: 0 });

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    for (const [k, v] of Object.entries(commonHeaders())) res.setHeader(k, v);
    void dispatch(router, req, { res }, listener.allowedHosts);
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    void dispatch(router, req, { upgrade: { socket, head } }, listener.allowedHosts);
  });

  // A TLS handshake that fails (a client without a certificate under --tlsverify) only concerns that connection.
  server.on('tlsClientError', (e: Error) => log.debug('TLS handshake refused', { error: e.message }));
  return server;
}

/** The Host header's name without port or IPv6 brackets, lower case ("[::1]:2375" → "::1"). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Why a request is refused before routing, if it is: the API gives root on this host, so web pages must not reach
 * it. Browsers send `Origin` on cross-site requests (and on every websocket); a DNS-rebound page reaches a loopback
 * TCP listener under its own host name, which the Host check refuses.
 */
export function browserRefusal(headers: http.IncomingHttpHeaders, allowedHosts?: string[]): string | undefined {
  if (headers.origin !== undefined) {
    return `refused: requests from web pages (Origin ${JSON.stringify(headers.origin)}) are not served; the Engine API gives root access to this host`;
  }
  if (allowedHosts && headers.host !== undefined && !allowedHosts.includes(hostName(headers.host))) {
    return `refused: Host ${JSON.stringify(headers.host)} is not an address of this listener (expected one of ${allowedHosts.join(', ')})`;
  }
  return undefined;
}

async function dispatch(router: Router, req: http.IncomingMessage, io: Pick<Context, 'res' | 'upgrade'>, allowedHosts?: string[]): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://berth');
  const { path, version } = splitVersion(url.pathname);
  const started = Date.now();
  try {
    const refusal = browserRefusal(req.headers, allowedHosts);
    if (refusal) throw new ApiError(403, refusal);
    const found = router.match(req.method ?? 'GET', path);
    if ('status' in found) {
      throw new ApiError(found.status, 'message' in found ? found.message : found.status === 404 ? `page not found` : `method not allowed`);
    }
    await found.handler({ req, ...io, params: found.params, query: url.searchParams, apiVersion: version ?? API_VERSION });
  } catch (e) {
    replyError(req, io, e);
  } finally {
    log.debug('api', { method: req.method, path: url.pathname, ms: Date.now() - started });
  }
}

function replyError(req: http.IncomingMessage, io: Pick<Context, 'res' | 'upgrade'>, e: unknown): void {
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
    // A body left unread (refused before or while it was read) closes the connection, after a bounded drain: closing
    // on unread bytes makes the kernel reset the connection, and the client would see EPIPE instead of the reply.
    const close = !req.complete ? { Connection: 'close' } : {};
    void drain(req).then(() => {
      if (res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...close });
      res.end(body);
    });
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
