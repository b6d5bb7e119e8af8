/**
 * One registry endpoint as seen by one operation: the `/v2/` ping (TLS first, plain HTTP fallback for insecure and
 * loopback registries), the auth challenge, bearer tokens per scope, redirects, and registry error bodies.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import * as tls from 'node:tls';
import { basicHeader, hasCredentials, parseChallenge, RegistryAuthError, tokenFromReply, tokenUrl, type AuthConfig, type Challenge } from './auth';
import { isLoopback, type Endpoint } from './hosts';

const USER_AGENT = 'berth/0.1 (linux) docker/20.10-compatible';
/** A registry that sends nothing for this long is stalled; the request fails (and may be retried). */
const IDLE_TIMEOUT_MS = 30_000;
const MAX_REDIRECTS = 5;

export class RegistryHttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A Buffer is replayed after an auth challenge; a stream is sent once (authenticate before streaming). */
  body?: Buffer | Readable;
  /** The token scope this request needs, e.g. repository:app:pull. */
  scope?: string;
  /** Statuses returned instead of thrown (e.g. 404 on HEAD). */
  accept?: number[];
}

export interface SessionOptions {
  signal?: AbortSignal;
  idleTimeoutMs?: number;
}

/** Read a whole reply body. */
export function readAll(res: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/** `{"errors":[{"code","message"}]}` -> "code: message" pieces (docker prints `denied: requested access ...`). */
export function registryErrorText(status: number, body: string): { code: string; text: string } {
  try {
    const j = JSON.parse(body) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    if (Array.isArray(j.errors) && j.errors.length) {
      const e = j.errors[0];
      const code = String(e.code ?? 'UNKNOWN');
      return { code, text: j.errors.map((x) => `${String(x.code ?? 'unknown').toLowerCase()}: ${x.message ?? ''}`).join('; ') };
    }
  } catch {
    // not a registry error body
  }
  return { code: 'UNKNOWN', text: `${status} ${http.STATUS_CODES[status] ?? ''}`.trim() + (body.trim() && body.length < 200 ? `: ${body.trim()}` : '') };
}

/** Errors worth another attempt: the connection broke, stalled, or the server failed. */
export function isTransient(e: unknown): boolean {
  if (e instanceof RegistryHttpError) return e.status >= 500 || e.status === 429;
  if (e instanceof RegistryAuthError) return false;
  const code = (e as NodeJS.ErrnoException)?.code ?? '';
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'STALLED', 'SHORT_BODY'].includes(code) || /aborted|socket hang up/i.test((e as Error)?.message ?? '');
}

export class RegistrySession {
  /** Base URL in use (switches to http:// after a TLS fallback). */
  base: string;
  readonly host: string;
  private challenge: Challenge | undefined;
  private pinged: Promise<void> | undefined;
  private readonly tokens = new Map<string, string>();
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;

  constructor(readonly endpoint: Endpoint, private readonly auth: AuthConfig, private readonly opts: SessionOptions = {}) {
    this.base = endpoint.url;
    this.host = new URL(endpoint.url).host;
    const t = endpoint.tls;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      ca: t.ca ? [...tls.rootCertificates, ...t.ca.map((c) => c.toString())] : undefined,
      cert: t.cert,
      key: t.key,
      rejectUnauthorized: !endpoint.insecureTls,
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** GET /v2/: learns the auth challenge; falls back to plain HTTP when allowed. Done once per session. */
  ping(): Promise<void> {
    this.pinged ??= this.doPing();
    return this.pinged;
  }

  private async doPing(): Promise<void> {
    let res: http.IncomingMessage;
    try {
      res = await this.send('GET', `${this.base}/v2/`, {});
    } catch (e) {
      if (!this.endpoint.httpFallback || !this.base.startsWith('https:') || this.opts.signal?.aborted) throw e;
      this.base = this.base.replace(/^https:/, 'http:');
      res = await this.send('GET', `${this.base}/v2/`, {});
    }
    const body = (await readAll(res)).toString('utf8');
    if (res.statusCode === 401) {
      this.challenge = parseChallenge(String(res.headers['www-authenticate'] ?? ''));
      if (!this.challenge) throw new RegistryHttpError(401, 'UNAUTHORIZED', `${this.host} asks for authentication in a way Berth does not support`);
      return;
    }
    if (res.statusCode !== 200) throw new RegistryHttpError(res.statusCode ?? 0, 'UNKNOWN', `${this.base}/v2/ is not a registry: ${registryErrorText(res.statusCode ?? 0, body).text}`);
  }

  /** Check the credentials against the registry (POST /auth): the ping's challenge, answered for no repository. */
  async login(): Promise<void> {
    await this.ping();
    if (!this.challenge) return;
    if (!hasCredentials(this.auth)) throw new RegistryAuthError(`${this.host}: unauthorized: authentication required`);
    const res = await this.request('GET', '/v2/', { accept: [401] });
    await readAll(res);
    if (res.statusCode === 401) throw new RegistryAuthError(`login attempt to ${this.base}/v2/ failed with status: 401 Unauthorized`);
  }

  /** A request to the registry (path like /v2/app/manifests/v1, or an absolute URL from a Location header). */
  async request(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
    await this.ping();
    let url = /^https?:/.test(pathOrUrl) ? pathOrUrl : this.base + pathOrUrl;
    let authz = await this.authorization(opts.scope, false);
    for (let hop = 0; ; hop++) {
      const sameHost = new URL(url).host === this.host;
      const headers: Record<string, string> = { ...opts.headers };
      if (authz && sameHost) headers.Authorization = authz;
      const res = await this.send(method, url, { headers, body: opts.body });
      const status = res.statusCode ?? 0;
      if (status === 401 && sameHost && (!opts.body || Buffer.isBuffer(opts.body)) && hop === 0 && this.challenge?.scheme === 'bearer') {
        // the token expired or its scope was not enough: fetch a fresh one once
        await readAll(res);
        this.tokens.delete(opts.scope ?? '');
        authz = await this.authorization(opts.scope, true);
        continue;
      }
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && (method === 'GET' || method === 'HEAD') && hop < MAX_REDIRECTS) {
        res.resume();
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      if (status >= 400 && !opts.accept?.includes(status)) {
        const body = method === 'HEAD' ? '' : (await readAll(res)).toString('utf8');
        const { code, text } = registryErrorText(status, body);
        if (status === 401 && code === 'UNKNOWN') throw new RegistryHttpError(401, 'UNAUTHORIZED', 'unauthorized: authentication required');
        throw new RegistryHttpError(status, code, text);
      }
      return res;
    }
  }

  private async authorization(scope: string | undefined, fresh: boolean): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return hasCredentials(this.auth) ? basicHeader(this.auth) : undefined;
    if (this.auth.registrytoken) return `Bearer ${this.auth.registrytoken}`;
    const key = scope ?? '';
    let token = fresh ? undefined : this.tokens.get(key);
    if (!token) {
      token = await this.fetchToken(ch, scope);
      this.tokens.set(key, token);
    }
    return `Bearer ${token}`;
  }

  private async fetchToken(ch: Challenge, scope: string | undefined): Promise<string> {
    const url = tokenUrl(ch, scope);
    const headers: Record<string, string> = {};
    if (this.auth.username) {
      // a password in clear text only to a TLS realm or one on this machine (the registry chose the realm)
      if (url.protocol !== 'https:' && !isLoopback(url.host)) {
        throw new RegistryAuthError(`${this.host}: refusing to send credentials to the token server ${url.origin} over plain HTTP`);
      }
      headers.Authorization = basicHeader(this.auth);
      url.searchParams.set('account', this.auth.username);
    }
    const res = await this.send('GET', url.toString(), { headers });
    const body = (await readAll(res)).toString('utf8');
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new RegistryAuthError(`${this.host}: ${hasCredentials(this.auth) ? 'unauthorized: incorrect username or password' : 'unauthorized: authentication required'}`);
    }
    if (res.statusCode !== 200) throw new RegistryAuthError(`token server ${url.origin} replied ${res.statusCode}: ${body.slice(0, 200)}`);
    return tokenFromReply(body);
  }

  private send(method: string, url: string, opts: { headers?: Record<string, string>; body?: Buffer | Readable }): Promise<http.IncomingMessage> {
    const u = new URL(url);
    const isHttps = u.protocol === 'https:';
    const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers['Content-Length'] = String(opts.body.length);
    else if (opts.body === undefined && (method === 'PUT' || method === 'POST' || method === 'PATCH')) headers['Content-Length'] = '0';
    const req = (isHttps ? https : http).request(u, { method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent, signal: this.opts.signal });
    const idle = this.opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      req.setTimeout(idle, () => req.destroy(Object.assign(new Error(`${u.host} stalled: nothing received for ${idle / 1000}s`), { code: 'STALLED' })));
      // the idle timer stays on the socket while the body is read, so a reply that stalls midway fails too
      req.on('response', resolve);
      req.on('error', (e: NodeJS.ErrnoException) => reject(describeNetError(e, method, url)));
      const body = opts.body;
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }
}

/** docker's `Get "https://h/v2/": dial tcp ...: connection refused` shape, keeping the error code for retries. */
function describeNetError(e: NodeJS.ErrnoException, method: string, url: string): Error {
  if (e.name === 'AbortError') return e;
  const verb = method[0] + method.slice(1).toLowerCase();
  return Object.assign(new Error(`${verb} "${url}": ${e.message}`), { code: e.code });
}
