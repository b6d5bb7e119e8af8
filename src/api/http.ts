/** Request context and reply helpers shared by all API handlers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { badRequest } from '../common/errors';

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

/** Read the whole request body (for ordinary requests). */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Parse a JSON body; an empty body gives `fallback`; malformed JSON is a 400 with the parser's reason. */
export async function readJsonBody<T>(ctx: Context, fallback: T): Promise<T> {
  const buf = await readBody(ctx.req);
  if (buf.length === 0) return fallback;
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    if (v === null || typeof v !== 'object') throw new Error('expected a JSON object');
    return v as T;
  } catch (e) {
    throw badRequest(`invalid JSON body: ${(e as Error).message}`);
  }
}

/** Docker's boolean query values: 1/true/True (anything else but 0/false/empty is true, as Go's form parsing). */
export function qBool(q: URLSearchParams, key: string, dflt = false): boolean {
  const v = q.get(key);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function qInt(q: URLSearchParams, key: string): number | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw badRequest(`invalid value for ${key}: ${v}`);
  return n;
}

export type Filters = Record<string, string[]>;

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
  const out: Filters = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.entries(v).filter(([, on]) => on).map(([x]) => x);
    else throw badRequest(`invalid filter '${k}'`);
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
