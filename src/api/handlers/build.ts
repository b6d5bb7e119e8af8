/** POST /build: docker's legacy builder protocol (tar context in, NDJSON progress out). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, badRequest } from '../../common/errors';
import { BuildError, type Builder, type BuildRequest } from '../../build/executor';
import { extractContext } from '../../build/contextfs';
import type { SshSource } from '../../build/runmounts';
import { parsePlatformList, type Platform } from '../../image/platform';
import { parseCacheSpec, rejoinCacheSpecs, type CacheSpec } from '../../build/buildflags';
import type { BuildMessage } from '../../build/output';
import { TraceRenderer } from '../../build/trace';
import { parseTimestamp } from '../../common/duration';
import { checkFilterKeys } from '../../common/filters';
import { qBool, qFilters, requestBody, sendJson, startStream, type Context } from '../http';
import type { Router } from '../router';
import { BuildSessions, sessionInfo } from '../session';
import { takeBytes } from '../stream';

function jsonQuery(q: URLSearchParams, key: string): unknown {
  const raw = q.get(key);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw badRequest(`invalid ${key}: ${(e as Error).message}`);
  }
}

/** A JSON object-of-strings query value (buildargs, labels); null values (unset args) are dropped. */
function jsonMap(q: URLSearchParams, key: string): Record<string, string> {
  const v = jsonQuery(q, key);
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${key}: expected a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) if (val !== null && val !== undefined) out[k] = String(val);
  return out;
}

/** A JSON list-of-strings query value (cachefrom: `["img:tag",...]`, as the docker CLI sends it). */
function jsonList(q: URLSearchParams, key: string): string[] {
  const v = jsonQuery(q, key) ?? [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badRequest(`invalid ${key}: expected a JSON array of strings`);
  return v as string[];
}

/**
 * Berth's build session in two headers (the legacy protocol has none): X-Berth-Build-Secrets is base64 JSON
 * {id: base64 value}, X-Berth-Build-Ssh base64 JSON {id: {socket: path} | {keys: [base64 key]}}.
 */
function sessionHeader<T>(ctx: Context, name: string, convert: (v: unknown, id: string) => T): Map<string, T> {
  const raw = ctx.req.headers[name.toLowerCase()];
  const out = new Map<string, T>();
  if (typeof raw !== 'string' || raw === '') return out;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    throw badRequest(`invalid ${name} header: expected base64 of a JSON object`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${name} header: expected base64 of a JSON object`);
  for (const [id, val] of Object.entries(v as Record<string, unknown>)) out.set(id, convert(val, id));
  return out;
}

function secretValue(v: unknown, id: string): Buffer {
  if (typeof v !== 'string') throw badRequest(`invalid secret ${id}: expected a base64 string`);
  return Buffer.from(v, 'base64');
}

function sshSource(v: unknown, id: string): SshSource {
  const o = v as { socket?: unknown; keys?: unknown } | null;
  if (o && typeof o.socket === 'string' && path.isAbsolute(o.socket)) return { socket: o.socket };
  if (o && Array.isArray(o.keys) && o.keys.every((k) => typeof k === 'string')) return { keys: (o.keys as string[]).map((k) => Buffer.from(k, 'base64')) };
  throw badRequest(`invalid ssh ${id}: expected {"socket": absolute path} or {"keys": [base64]}`);
}

function asPlatforms(value: string | null): Platform[] {
  try {
    return value ? parsePlatformList(value) : [];
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

function cacheSpec(value: string, what: 'cache-to' | 'cache-from'): CacheSpec | undefined {
  try {
    return parseCacheSpec(value, what);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

function badSpec(value: string): never {
  throw badRequest(`invalid cache-to value ${JSON.stringify(value)}: expected type=local,dest=DIR, type=registry,ref=REF or type=inline`);
}

function dockerfilePath(value: string | null): string {
  const p = path.posix.normalize((value || 'Dockerfile').replace(/^\/+/, ''));
  if (p === '..' || p.startsWith('../')) throw badRequest(`the Dockerfile (${value}) must be within the build context`);
  return p;
}

const EMPTY_CHUNKED = Buffer.from('0\r\n\r\n');

export function buildRoutes(r: Router, builder: Builder): void {
  const sessions = new BuildSessions();
  r.add('POST', '/session', async (ctx) => {
    const info = sessionInfo(ctx.req.headers);
    if (!ctx.upgrade) throw badRequest('session: the connection must upgrade to h2c');
    // Some clients (docker-modem) send an empty chunked body: its end must not reach the HTTP/2 stream.
    // Any other body is refused before a byte of it is read (a Content-Length is the client's word, not a size to buffer).
    const chunked = /chunked/i.test(String(ctx.req.headers['transfer-encoding'] ?? ''));
    if (!chunked && Number(ctx.req.headers['content-length'] ?? 0) !== 0) throw badRequest('session: the request must not have a body');
    const body = await takeBytes(ctx.upgrade.socket, ctx.upgrade.head, chunked ? EMPTY_CHUNKED.length : 0);
    if (chunked && !body.taken.equals(EMPTY_CHUNKED)) throw badRequest('session: the request must not have a body');
    sessions.attach(info, ctx.upgrade.socket); // refuses before it answers 101
    ctx.upgrade.hijacked = true;
  });

  r.add('POST', '/build/prune', async (ctx) => {
    const filters = qFilters(ctx.query);
    let before: number | undefined;
    let keepStorage: number | undefined;
    try {
      // BuildKit's other filters (id, parent, type, description, shared, private) select cache records Berth lacks
      checkFilterKeys(filters, ['until', 'id', 'parent', 'type', 'description', 'inuse', 'shared', 'private', 'label', 'label!']);
      if (filters.until?.length) before = parseTimestamp(filters.until[0]);
      const keep = ctx.query.get('keep-storage');
      if (keep && keep !== '0') {
        if (!/^\d+$/.test(keep)) throw new Error(`invalid keep-storage: ${keep}`);
        keepStorage = Number(keep);
      }
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    // Cache records carry no labels: a label filter (system prune passes its own) selects none of them.
    if (filters.label?.length) return sendJson(ctx, 200, { CachesDeleted: [], SpaceReclaimed: 0 });
    sendJson(ctx, 200, await builder.prune({ before, keepStorage, all: qBool(ctx.query, 'all') }));
  });

  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    if (q.get('remote')) throw badRequest('remote build contexts are not supported: send the context as the request body');
    const version = q.get('version') || '1';
    if (version !== '1' && version !== '2') throw badRequest(`invalid version ${JSON.stringify(version)}: expected "1" or "2"`);
    // held for the build's length, as dockerd holds it (see api/session.ts for what Berth does not use of it)
    if (q.get('session')) await sessions.get(q.get('session') as string);
    const scratch = builder.scratch();
    try {
      const contextDir = path.join(scratch, 'context');
      fs.mkdirSync(contextDir);
      await extractContext(requestBody(ctx.req), contextDir).catch((e: Error) => {
        throw badRequest(e.message.startsWith('invalid build context') ? e.message : `invalid build context: ${e.message}`);
      });
      const req: BuildRequest = {
        contextDir,
        dockerfile: dockerfilePath(q.get('dockerfile')),
        tags: q.getAll('t').filter(Boolean),
        buildArgs: jsonMap(q, 'buildargs'),
        target: q.get('target') || undefined,
        noCache: qBool(q, 'nocache'),
        // BuildKit's `type=...` values are exported caches; plain ones are images (the classic --cache-from)
        cacheFrom: rejoinCacheSpecs(jsonList(q, 'cachefrom')).filter((v) => !cacheSpec(v, 'cache-from')),
        cacheImports: rejoinCacheSpecs(jsonList(q, 'cachefrom')).flatMap((v) => cacheSpec(v, 'cache-from') ?? []),
        // Berth's own parameter: the legacy protocol has none (BuildKit's clients send cache exports in the session)
        cacheExports: jsonList(q, 'cacheto').map((v) => cacheSpec(v, 'cache-to') ?? badSpec(v)),
        labels: jsonMap(q, 'labels'),
        network: q.get('networkmode') || 'default',
        extraHosts: q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
        rm: qBool(q, 'rm', true),
        forceRm: qBool(q, 'forcerm'),
        quiet: qBool(q, 'q'),
        platforms: asPlatforms(q.get('platform')),
        secrets: sessionHeader(ctx, 'X-Berth-Build-Secrets', secretValue),
        ssh: sessionHeader(ctx, 'X-Berth-Build-Ssh', sshSource),
      };
      await run(ctx, builder, req, version === '2');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
}

/**
 * Streams the build; an error before the first message is an HTTP error, after it an errorDetail line. A BuildKit
 * client (`version=2`) gets BuildKit's messages (build/trace.ts).
 */
async function run(ctx: Context, builder: Builder, req: BuildRequest, buildkit: boolean): Promise<void> {
  let out: ReturnType<typeof startStream> | undefined;
  const trace = buildkit ? new TraceRenderer() : undefined;
  const emit = (m: BuildMessage): void => {
    out ??= startStream(ctx, 'application/json');
    const { trace: _hint, ...classic } = m;
    for (const wire of trace ? trace.render(m) : [classic]) if (!out.destroyed) out.write(JSON.stringify(wire) + '\n');
  };
  try {
    await builder.build(req, emit);
  } catch (e) {
    if (!out) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(e instanceof BuildError ? 400 : 500, (e as Error).message);
    }
    const message = (e as Error).message;
    const code = e instanceof BuildError ? e.code : undefined;
    emit({ errorDetail: { message, ...(code !== undefined ? { code } : {}) }, error: message });
  }
  out?.end();
}
