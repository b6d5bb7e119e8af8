/** `startRegistry`: an OCI distribution-spec 1.1 registry over HTTP(S), storing everything under one root dir. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { log } from '../../common/log';
import { isLoopback } from '../client/hosts';
import { Htpasswd } from './auth';
import { cancelUpload, completeUpload, deleteBlob, getBlob, patchUpload, startUpload, uploadStatus } from './blob-routes';
import { RegistryError } from './errors';
import { type Ctx, type RouteKind, route, send, sendJson } from './http';
import { catalog, deleteManifest, getManifest, listTags, putManifest, referrers } from './manifest-routes';
import { RegistryStorage } from './storage';
import { Uploads } from './uploads';

export interface RegistryOptions {
  /** Storage root (created when missing). */
  root: string;
  /** Listen address; loopback unless told otherwise. */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Path of an htpasswd file (bcrypt hashes): every request then needs HTTP basic auth. */
  htpasswd?: string;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Refuse every write with 405 UNSUPPORTED (distribution's read-only maintenance mode). */
  readOnly?: boolean;
  /** Realm of the basic-auth challenge. */
  realm?: string;
  /** Most bytes one blob upload may have (default: no limit but the disk's). */
  maxBlobSize?: number;
  /** Upload sessions that received nothing for this long are removed (default 1 h), checked as often. */
  uploadMaxAgeMs?: number;
  /** A client must send its request headers within this (default 60 s)... */
  headersTimeoutMs?: number;
  /** ...and may not stay silent longer than this while sending a body or keeping a connection (default 2 min). */
  idleTimeoutMs?: number;
  /** bcrypt checks running at once (default: one less than the CPUs, at least one). */
  authConcurrency?: number;
}

export const UPLOAD_MAX_AGE_MS = 3600 * 1000;
const PURGE_EVERY_MAX_MS = 10 * 60 * 1000;

export interface RunningRegistry {
  /** e.g. http://127.0.0.1:5000 */
  url: string;
  close(): Promise<void>;
}

type Handler = (ctx: Ctx) => Promise<void>;

const base: Handler = async (ctx) => sendJson(ctx, 200, {});

const HANDLERS: Record<RouteKind, Partial<Record<string, Handler>>> = {
  base: { GET: base, HEAD: base },
  catalog: { GET: catalog },
  tags: { GET: listTags },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload },
  referrers: { GET: referrers },
};

const READ_METHODS = new Set(['GET', 'HEAD']);

export async function startRegistry(opts: RegistryOptions): Promise<RunningRegistry> {
  const host = opts.host ?? '127.0.0.1';
  // as distribution refuses basic auth without TLS: a password must not cross the network in clear text
  if (opts.htpasswd !== undefined && !opts.tls && !isLoopback(host)) {
    throw new Error(`htpasswd authentication over plain HTTP is only allowed on loopback: serve TLS (--tls-cert, --tls-key) or listen on 127.0.0.1, not ${host}`);
  }
  const uploadMaxAge = opts.uploadMaxAgeMs ?? UPLOAD_MAX_AGE_MS;
  const storage = new RegistryStorage(opts.root);
  await storage.init(uploadMaxAge);
  const uploads = new Uploads(storage, opts.maxBlobSize);
  const htpasswd = opts.htpasswd === undefined ? undefined : Htpasswd.load(opts.htpasswd, opts.authConcurrency);
  const realm = opts.realm ?? 'berth-registry';

  const dispatch = async (req: http.IncomingMessage, res: http.ServerResponse, ctx: Ctx): Promise<void> => {
    if (htpasswd && !(await htpasswd.check(req.headers.authorization))) {
      res.setHeader('WWW-Authenticate', `Basic realm="${realm}"`);
      throw new RegistryError('UNAUTHORIZED', 'authentication required');
    }
    const [rawPath] = (req.url ?? '/').split('?', 1);
    const r = route(rawPath);
    if (!r) return send(ctx, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, '404 page not found\n');
    ctx.route = r;
    const methods = HANDLERS[r.kind];
    const handler = Object.hasOwn(methods, req.method ?? '') ? methods[req.method ?? ''] : undefined;
    if (!handler) {
      res.setHeader('Allow', Object.keys(methods).join(', '));
      throw new RegistryError('UNSUPPORTED', `${req.method} is not supported here`);
    }
    if (opts.readOnly && !READ_METHODS.has(req.method ?? '')) throw new RegistryError('UNSUPPORTED', 'the registry is in read-only mode');
    await handler(ctx);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.setHeader('Docker-Distribution-Api-Version', 'registry/2.0');
    const query = new URLSearchParams((req.url ?? '').split('?').slice(1).join('?'));
    const ctx: Ctx = { req, res, query, route: { kind: 'base', name: '', arg: '' }, storage, uploads };
    res.on('finish', () => log.debug('registry request', { method: req.method, url: req.url, status: res.statusCode }));
    dispatch(req, res, ctx).catch((e: unknown) => {
      if (res.headersSent) return void res.destroy(); // a reply broke mid-stream: the client sees a short body
      if (!req.complete) res.setHeader('Connection', 'close'); // refused before its body was read: do not read the rest
      if (e instanceof RegistryError) return send(ctx, e.status, { 'Content-Type': 'application/json' }, e.body());
      log.error('registry request failed', { method: req.method, url: req.url, error: (e as Error).message });
      send(ctx, 500, { 'Content-Type': 'application/json' }, JSON.stringify({ errors: [{ code: 'UNKNOWN', message: (e as Error).message }] }));
    });
  };

  const headersTimeout = opts.headersTimeoutMs ?? 60_000;
  // requestTimeout 0: a layer may take longer than Node's 5-minute default to upload; the idle timeout bounds a stall
  const serverOpts = { headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(headersTimeout, 30_000) };
  const server = opts.tls ? https.createServer({ ...serverOpts, cert: opts.tls.cert, key: opts.tls.key }, onRequest) : http.createServer(serverOpts, onRequest);
  server.timeout = opts.idleTimeoutMs ?? 120_000; // with no 'timeout' listener Node destroys the silent socket
  const purge = setInterval(() => {
    uploads.purge(Date.now() - uploadMaxAge).catch((e: Error) => log.error('registry: purging old uploads failed', { error: e.message }));
  }, Math.min(uploadMaxAge, PURGE_EVERY_MAX_MS));
  purge.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      clearInterval(purge);
      reject(e);
    });
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        clearInterval(purge);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
