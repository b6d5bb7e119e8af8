/**
 * Docker Engine API client over a unix socket or TCP (plain or TLS, with a client certificate as docker's
 * --tlsverify), speaking as the docker CLI does: `HEAD /_ping` first (falling back to GET on 405), API version
 * negotiated from the Api-Version header, then `/vX.Y/...` on a keep-alive connection.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { SshTarget } from './ssh';
import { rootlessPaths } from '../common/rootless';
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
    super(
      code === 'EACCES' ? permissionDenied(host.replace(/^unix:\/\//, '')) : `Cannot connect to the Berth daemon at ${host}. Is the berth daemon running?`,
    );
  }
}

/** A root daemon's socket is opened through its group; a rootless daemon's belongs to its user alone. */
function permissionDenied(socket: string): string {
  let owner: number;
  try {
    owner = fs.statSync(socket).uid;
  } catch {
    return `permission denied on ${socket}: a directory on its path is closed to you (another user's runtime directory?)`;
  }
  return owner === 0
    ? `permission denied on ${socket}: add yourself to the berth group or use sudo`
    : `permission denied on ${socket}: it is the rootless daemon of user ${owner}; use your own (unset DOCKER_HOST)`;
}

/** A TLS handshake failed: one line naming the reason and the files to check. */
export class TlsError extends Error {
  constructor(host: string, reason: string) {
    super(`error during connect: TLS with ${host} failed: ${reason}; check --tlscacert, --tlscert and --tlskey (or the files in DOCKER_CERT_PATH)`);
  }
}

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|ERR_OSSL_)/;

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

/** TLS towards a TCP daemon: `verify` checks its certificate against `ca` (docker's --tlsverify). */
export interface TlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  verify: boolean;
}

/** The daemon's address: a unix socket, or TCP (TLS when `tls` is set). */
export type Endpoint = { socketPath: string } | { host: string; port: number; tls?: TlsOptions };
/** What a host names: an endpoint, or an ssh:// target (reached through a local tunnel, see ./ssh). */
export type HostTarget = Endpoint | { ssh: SshTarget };

/** docker's global connection flags (-H, --tls, --tlsverify, --tlscacert, --tlscert, --tlskey). */
export interface HostFlags {
  host?: string;
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** A non-root user's own rootless daemon (`$XDG_RUNTIME_DIR/berth/berth.sock`), root's system daemon otherwise. */
export function defaultSocket(env: NodeJS.ProcessEnv, uid: number): string {
  return (uid !== 0 && rootlessPaths(env, os.homedir())?.socket) || DEFAULT_SOCKET;
}

/**
 * Where the daemon listens, as docker's CLI decides it: -H, else $DOCKER_HOST, else the default socket (defaultSocket). TLS is on
 * with --tls, --tlsverify or $DOCKER_TLS_VERIFY (any non-empty value); the PEM files default to ca.pem, cert.pem and
 * key.pem in $DOCKER_CERT_PATH or ~/.docker. Without --tlsverify a missing client cert is no error (docker's --tls).
 */
export function resolveHost(env: NodeJS.ProcessEnv = process.env, flags: HostFlags = {}, uid = process.getuid?.() ?? 0): { endpoint: HostTarget; explicit: boolean } {
  const host = flags.host || env.DOCKER_HOST;
  if (!host) return { endpoint: { socketPath: defaultSocket(env, uid) }, explicit: false };
  // loaded only for ssh://: it pulls in child_process and net, which every other command's start would pay for
  if (host.startsWith('ssh://')) return { endpoint: { ssh: (require('./ssh') as typeof import('./ssh')).parseSshUrl(host) }, explicit: true };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    if (!socketPath) throw new Error(`invalid DOCKER_HOST ${JSON.stringify(host)}: empty socket path`);
    return { endpoint: { socketPath }, explicit: true };
  }
  if (!host.startsWith('tcp://')) throw new Error(`unsupported DOCKER_HOST ${JSON.stringify(host)}: use unix://, tcp:// or ssh://`);
  let u: URL;
  try {
    u = new URL(host.replace(/^tcp:/, 'http:'));
  } catch {
    throw new Error(`invalid DOCKER_HOST ${JSON.stringify(host)}`);
  }
  const verify = flags.tlsverify ?? !!env.DOCKER_TLS_VERIFY;
  const useTls = verify || !!flags.tls;
  const hostname = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port || (useTls ? 2376 : 2375));
  if (!useTls) return { endpoint: { host: hostname, port }, explicit: true };
  const dir = env.DOCKER_CERT_PATH || path.join(os.homedir(), '.docker');
  const read = (file: string, required: boolean): Buffer | undefined => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`could not read TLS file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const tls: TlsOptions = {
    verify,
    ca: read(flags.tlscacert || path.join(dir, 'ca.pem'), verify),
    cert: read(flags.tlscert || path.join(dir, 'cert.pem'), verify),
    key: read(flags.tlskey || path.join(dir, 'key.pem'), verify),
  };
  return { endpoint: { host: hostname, port, tls }, explicit: true };
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
  ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'EHOSTUNREACH', 'ENETUNREACH'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/** node:https only when TLS is used: loading it costs start-up time every other command would pay. */
const loadHttps = (): typeof https => require('node:https') as typeof https;

export class EngineClient {
  readonly endpoint: Endpoint;
  private readonly agent: http.Agent;
  private version: string | null;
  private negotiating: Promise<PingInfo> | null = null;

  private readonly label?: string;

  /**
   * `apiVersion` pins the prefix (like DOCKER_API_VERSION); the ping still happens first. `label` names the host in
   * messages when the endpoint is a stand-in (the local end of an ssh tunnel).
   */
  constructor(opts: ({ socketPath?: string } | { endpoint: Endpoint }) & { apiVersion?: string; label?: string } = {}) {
    this.endpoint = 'endpoint' in opts ? opts.endpoint : { socketPath: opts.socketPath ?? DEFAULT_SOCKET };
    this.label = opts.label;
    const tls = 'host' in this.endpoint ? this.endpoint.tls : undefined;
    this.agent = tls ? new (loadHttps().Agent)({ keepAlive: true, ...tlsOptions(tls) }) : new http.Agent({ keepAlive: true });
    this.version = opts.apiVersion ?? null;
  }

  /** As docker prints it in "Cannot connect" messages. */
  get host(): string {
    if (this.label) return this.label;
    return 'socketPath' in this.endpoint ? `unix://${this.endpoint.socketPath}` : `tcp://${formatHost(this.endpoint.host)}:${this.endpoint.port}`;
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
    const ep = this.endpoint;
    // Over a unix socket docker's client names no real host; over TCP node sends host:port as docker's does.
    const headers: Record<string, string> = { ...('socketPath' in ep ? { Host: 'api.moby.localhost' } : {}), 'User-Agent': USER_AGENT, ...opts.headers };
    const body = opts.body;
    if (body !== undefined && !isReadable(body) && !Buffer.isBuffer(body)) headers['Content-Type'] = 'application/json';
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
    const common = { method, path: path + encodeQuery(opts.query), headers, agent: pooled ? this.agent : false };
    let req: http.ClientRequest;
    if ('socketPath' in ep) {
      // an explicit (empty) TLS server name spares the agent an isIP() check whose regex costs ~5 ms at start-up
      req = http.request({ ...common, socketPath: ep.socketPath, servername: '' } as http.RequestOptions);
    } else if (ep.tls) {
      req = loadHttps().request({ ...common, host: ep.host, port: ep.port, ...(pooled ? {} : tlsOptions(ep.tls)) });
    } else {
      req = http.request({ ...common, host: ep.host, port: ep.port });
    }
    if (opts.onSent) req.once('finish', opts.onSent);
    return req;
  }

  private connectError(e: Error): Error {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (isConnectFailure(e)) return new ConnectError(this.host, code);
    if ('host' in this.endpoint && this.endpoint.tls) {
      if (TLS_CODES.test(code) || /alert|certificate/i.test(e.message)) return new TlsError(this.host, e.message.replace(/^.*SSL routines::/, ''));
      // Under TLS 1.3 a refused client certificate shows as the connection closing right after the handshake.
      if (code === 'ECONNRESET' || e.message === 'socket hang up') {
        return new TlsError(this.host, 'the daemon closed the connection (it refuses this client certificate: missing, expired or from another CA)');
      }
    }
    return e;
  }
}

/** A raw byte stream to the daemon (dial-stdio), connected or rejected with the same errors as a request. */
export function rawConnection(ep: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let conn: Socket;
    if ('socketPath' in ep) conn = (require('node:net') as typeof import('node:net')).connect(ep.socketPath);
    else if (ep.tls) conn = (require('node:tls') as typeof import('node:tls')).connect({ host: ep.host, port: ep.port, ...tlsOptions(ep.tls) });
    else conn = (require('node:net') as typeof import('node:net')).connect(ep.port, ep.host);
    conn.once('host' in ep && ep.tls ? 'secureConnect' : 'connect', () => resolve(conn));
    conn.once('error', reject);
  });
}

function tlsOptions(tls: TlsOptions): https.AgentOptions {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.verify };
}

const formatHost = (h: string): string => (h.includes(':') ? `[${h}]` : h);

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
