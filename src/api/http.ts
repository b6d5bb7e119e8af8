/** Request context and reply helpers shared by all API handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { ApiError, badRequest } from '../common/errors';
import type { Filters } from '../common/filters';
import { parseTimestampArg } from '../engine/containers/logs';
import { decodeBody, type Schema } from './decode';

export const API_VERSION = '1.43';
export const MIN_API_VERSION = '1.24';

export interface Context {
  req: IncomingMessage;
  /** Set for ordinary requests. */
  res?: ServerResponse;
  /** Set when the client asked to upgrade (hijack): the raw connection and the bytes that came after the headers. */
  upgrade?: { socket: Duplex; head: Buffer; hijacked?: boolean };
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version the client asked for in the path (`/v1.41/...`), else the daemon's. */
  apiVersion: string;
}

/** Whether the request's API version is `v` or newer (dockerd's versions.GreaterThanOrEqualTo). */
export function versionAtLeast(ctx: Pick<Context, 'apiVersion'>, v: string): boolean {
  const [a, b] = [ctx.apiVersion, v].map((x) => x.split('.').map(Number));
  return a[0] !== b[0] ? a[0] > b[0] : (a[1] ?? 0) >= (b[1] ?? 0);
}

export function commonHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Berth/${API_VERSION} (linux)`,
  };
}

export function res(ctx: Context): ServerResponse {
  if (!ctx.res) throw badRequest('this endpoint does not support connection upgrade');
  return ctx.res;
}

export function sendJson(ctx: Context, status: number, body: unknown): void {
  const r = res(ctx);
  const text = JSON.stringify(body) + '\n';
  r.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  r.end(text);
}

export function sendEmpty(ctx: Context, status: number): void {
  const r = res(ctx);
  r.writeHead(status);
  r.end();
}

/**
 * The most a JSON body may hold. dockerd decodes bodies as streams without a cap; Berth buffers them, so it bounds
 * them: the largest real create bodies (many binds, env, labels) are a few hundred KiB.
 */
export const MAX_JSON_BODY = 16 << 20;

/**
 * The request body as a stream a handler may abandon: destroying an IncomingMessage (as pipeline() and a broken
 * `for await` do when a consumer fails) destroys its socket, and the error reply would never reach the client.
 */
export function requestBody(req: IncomingMessage): Readable {
  return req.pipe(new PassThrough());
}

/** The most of a refused body read (and discarded) before replying, and for how long: Go's server lingers likewise. */
const DRAIN_BYTES = 64 << 20;
const DRAIN_MS = 2000;

export function drain(req: IncomingMessage): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let left = DRAIN_BYTES;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (c: Buffer): void => {
      left -= c.length;
      if (left <= 0) done();
    };
    const timer = setTimeout(done, DRAIN_MS);
    req.on('data', onData).once('end', done).once('close', done).resume();
  });
}

/** Read a whole request body of at most `limit` bytes; a longer one is a 413 and the rest is not read. */
export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const tooLarge = () => new ApiError(413, `request body too large: the limit is ${limit} bytes (${limit >> 20} MiB)`);
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of requestBody(req)) {
    size += (c as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * A JSON body must say so: a browser's cross-site "simple request" (text/plain, form encodings) cannot send
 * application/json without a CORS preflight, which the daemon never answers.
 */
export function checkJsonContentType(req: IncomingMessage): void {
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiError(403, `refused: a JSON body must be sent with Content-Type application/json, not ${JSON.stringify(type || 'none')}`);
  }
}

/** Parse a JSON body; an empty body gives `fallback`; malformed JSON and wrong types are a 400 naming the field. */
export function parseJsonBody<T>(buf: Buffer, fallback: T, schema: { fields: Record<string, Schema> }): T {
  if (buf.length === 0) return fallback;
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8')) as unknown;
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
  if (v === null) return fallback;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid JSON body: expected a JSON object, got ${Array.isArray(v) ? 'array' : typeof v}`);
  return decodeBody<T>(v, schema);
}

/** Read, check and decode a JSON request body (see parseJsonBody). */
export async function readJsonBody<T>(ctx: Context, fallback: T, schema: { fields: Record<string, Schema> }): Promise<T> {
  const buf = await readBody(ctx.req);
  if (buf.length > 0) checkJsonContentType(ctx.req);
  return parseJsonBody(buf, fallback, schema);
}

/** Docker's boolean query values: 1/true/True (anything else but 0/false/empty is true, as Go's form parsing). */
export function qBool(q: URLSearchParams, key: string, dflt = false): boolean {
  const v = q.get(key);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

/** An integer query value (Go's strconv.Atoi); empty or absent is undefined, anything else a 400. */
export function qInt(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw badRequest(`invalid value for ${key}: ${JSON.stringify(v)}: not an integer`);
  return Number(v);
}

/** A time query value (events and logs `since`/`until`): empty or absent is undefined, one that is not a time a 400
 *  (it was ignored, and `/events?until=garbage` streamed for ever). */
export function qTimestamp(q: URLSearchParams, key: string): bigint | undefined {
  const v = q.get(key);
  const ns = parseTimestampArg(v);
  if (v && ns === undefined) throw badRequest(`invalid value for ${key}: ${JSON.stringify(v)}: not a timestamp (seconds[.nanoseconds] since the epoch, or RFC 3339)`);
  return ns;
}

/** The `filters` query: JSON `{"k":["v"]}` or the older `{"k":{"v":true}}` map form. */
export function qFilters(q: URLSearchParams): Filters {
  const raw = q.get('filters');
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filter '${raw}'`);
  }
  if (parsed === null) return {}; // Go decodes null into an empty filter set
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`invalid filter '${raw}': expected a JSON object`);
  const out: Filters = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = Object.entries(v).filter(([, on]) => on).map(([x]) => x);
    else throw badRequest(`invalid filter '${k}': expected a list of strings`);
  }
  return out;
}

/** Start a chunked streaming reply (NDJSON or raw stream). */
export function startStream(ctx: Context, contentType: string): ServerResponse {
  const r = res(ctx);
  r.writeHead(200, { 'Content-Type': contentType });
  r.flushHeaders();
  return r;
}
