/**
 * Docker Engine API client over a unix socket, speaking as the docker CLI does: `HEAD /_ping` first (falling back
 * to GET on 405), API version negotiated from the Api-Version header, then `/vX.Y/...` on a keep-alive connection.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { readNdjson } from './stream';

export const DEFAULT_SOCKET = '/run/berth/berth.sock';
/** The newest API version this client speaks; lowered to the daemon's if that is older. */
export const CLIENT_API_VERSION = '1.43';
/** What docker's client falls back to when /_ping carries no Api-Version header. */
const FALLBACK_API_VERSION = '1.24';
const USER_AGENT = 'Berth-Client/0.1.0 (linux)';

/** A non-2xx reply: `message` reads like docker's ("Error response from daemon: No such container: x"). */
export class EngineError extends Error {
  constructor(readonly status: number, readonly reason: string) {
    super(`Error response from daemon: ${reason}`);
  }
}

/** The daemon socket could not be reached at all. */
export class ConnectError extends Error {
  constructor(readonly host: string, readonly code: string) {
    super(`Cannot connect to the Berth daemon at ${host}. Is the berth daemon running?`);
  }
}

export interface PingInfo { apiVersion: string; osType: string; experimental: boolean; server: string }

export type Query = Record<string, string | number | boolean | string[] | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Objects are sent as JSON; a Readable is streamed as-is (use with contentType). */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
  /** Called once the request has been written out (to order a request before a later one on another connection). */
  onSent?: () => void;
}

/** Where the daemon listens: $DOCKER_HOST (unix:// only) or the default socket. */
export function resolveHost(env: NodeJS.ProcessEnv = process.env, flagHost?: string): { socketPath: string; explicit: boolean } {
  const host = flagHost || env.DOCKER_HOST;
  if (!host) return { socketPath: DEFAULT_SOCKET, explicit: false };
  if (!host.startsWith('unix://')) throw new Error(`unsupported DOCKER_HOST ${JSON.stringify(host)}: only unix:// sockets are supported`);
  const socketPath = host.slice('unix://'.length);
  if (!socketPath) throw new Error(`invalid DOCKER_HOST ${JSON.stringify(host)}: empty socket path`);
  return { socketPath, explicit: true };
}

/** Go's url.Values.Encode: keys sorted, QueryEscape (space as '+', !'()* escaped). */
export function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const esc = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()).replace(/%20/g, '+');
  const parts: string[] = [];
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) parts.push(`${esc(k)}=${esc(typeof item === 'boolean' ? (item ? '1' : '0') : String(item))}`);
  }
  return parts.length ? '?' + parts.join('&') : '';
}

const isConnectFailure = (e: unknown): e is NodeJS.ErrnoException =>
  ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK'].includes((e as NodeJS.ErrnoException)?.code ?? '');

export class EngineClient {
  readonly socketPath: string;
  private readonly agent = new http.Agent({ keepAlive: true });
  private version: string | null;
  private negotiating: Promise<PingInfo> | null = null;

  /** `apiVersion` pins the prefix (like DOCKER_API_VERSION); the ping still happens first. */
  constructor(opts: { socketPath?: string; apiVersion?: string } = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET;
    this.version = opts.apiVersion ?? null;
  }

  get host(): string {
    return `unix://${this.socketPath}`;
  }

  /** The negotiated API version ("1.43"); valid after the first request. */
  get apiVersion(): string {
    return this.version ?? CLIENT_API_VERSION;
  }

  /** HEAD /_ping (GET on 405), negotiating the API version from its Api-Version header. */
  async ping(): Promise<PingInfo> {
    let res = await this.send('HEAD', '/_ping', {});
    if (res.statusCode === 405) {
      res.resume();
      res = await this.send('GET', '/_ping', {});
    }
    const body = await readAll(res);
    if ((res.statusCode ?? 500) >= 400) throw errorFrom(res.statusCode ?? 500, body);
    const header = res.headers['api-version'];
    const server = typeof header === 'string' && header ? header : FALLBACK_API_VERSION;
    if (this.version === null) this.version = compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    return {
      apiVersion: server,
      osType: String(res.headers['ostype'] ?? ''),
      experimental: res.headers['docker-experimental'] === 'true',
      server: String(res.headers['server'] ?? ''),
    };
  }

  /** A JSON request; resolves with the decoded body (undefined when empty), rejects with EngineError. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.stream(method, path, opts);
    const text = (await readAll(res)).toString('utf8');
    if (!text) return undefined as T;
    const type = String(res.headers['content-type'] ?? '');
    return (type.includes('json') || /^[[{]/.test(text) ? JSON.parse(text) : text) as T;
  }

  /** A request whose 2xx reply is returned unread (logs, events, save, pulls); errors are decoded and thrown. */
  async stream(method: string, path: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    await this.connect();
    const res = await this.send(method, `/v${this.version}${path}`, opts);
    const status = res.statusCode ?? 500;
    if (status >= 400) throw errorFrom(status, await readAll(res));
    return res;
  }

  /** NDJSON reply as an async sequence of messages. */
  async *ndjson(method: string, path: string, opts: RequestOptions = {}): AsyncGenerator<unknown> {
    yield* readNdjson(await this.stream(method, path, opts));
  }

  /**
   * Hijacks a connection (attach, exec start): sends `Connection: Upgrade`, `Upgrade: tcp` and resolves on
   * `101` with the raw socket; any other status is decoded and thrown. The socket is not pooled.
   */
  async hijack(method: string, path: string, opts: RequestOptions = {}): Promise<Socket> {
    await this.connect();
    const headers = { Connection: 'Upgrade', Upgrade: 'tcp', ...opts.headers };
    const req = this.makeRequest(method, `/v${this.version}${path}`, { ...opts, headers }, false);
    return new Promise<Socket>((resolve, reject) => {
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        readAll(res).then((body) => reject(errorFrom(res.statusCode ?? 500, body)), reject);
      });
      req.on('error', (e) => reject(this.connectError(e)));
      writeBody(req, opts);
    });
  }

  /** Drops pooled idle connections (they are unref'd, so this is only needed for tidy tests). */
  close(): void {
    this.agent.destroy();
  }

  /** Pings once (the first call does the work; later calls share it) so the API version is known. */
  connect(): Promise<PingInfo> {
    if (this.negotiating === null) {
      this.negotiating = this.ping();
      this.negotiating.catch(() => (this.negotiating = null));
    }
    return this.negotiating;
  }

  private send(method: string, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    const req = this.makeRequest(method, path, opts, true);
    return new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', (e) => reject(this.connectError(e)));
      writeBody(req, opts);
    });
  }

  private makeRequest(method: string, path: string, opts: RequestOptions, pooled: boolean): http.ClientRequest {
    const headers: Record<string, string> = { Host: 'api.moby.localhost', 'User-Agent': USER_AGENT, ...opts.headers };
    const body = opts.body;
    if (body !== undefined && !isReadable(body) && !Buffer.isBuffer(body)) headers['Content-Type'] = 'application/json';
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
    const req = http.request({
      socketPath: this.socketPath,
      method,
      path: path + encodeQuery(opts.query),
      headers,
      agent: pooled ? this.agent : false,
      // an explicit (empty) TLS server name spares the agent an isIP() check whose regex costs ~5 ms at start-up
      servername: '',
    } as http.RequestOptions);
    if (opts.onSent) req.once('finish', opts.onSent);
    return req;
  }

  private connectError(e: Error): Error {
    return isConnectFailure(e) ? new ConnectError(this.host, (e as NodeJS.ErrnoException).code as string) : e;
  }
}

function isReadable(v: unknown): v is Readable {
  return typeof (v as Readable)?.pipe === 'function';
}

function writeBody(req: http.ClientRequest, opts: RequestOptions): void {
  const body = opts.body;
  if (body === undefined) req.end();
  else if (isReadable(body)) body.pipe(req);
  else if (Buffer.isBuffer(body)) req.end(body);
  else req.end(JSON.stringify(body));
}

function readAll(res: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** Decodes a `{"message": "..."}` error body (plain text is taken as is). */
function errorFrom(status: number, body: Buffer): EngineError {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed?.message === 'string') return new EngineError(status, parsed.message);
  } catch {
    // not JSON: fall through
  }
  return new EngineError(status, text || http.STATUS_CODES[status] || `status ${status}`);
}

/** Compares dotted versions numerically ("1.9" < "1.43"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
