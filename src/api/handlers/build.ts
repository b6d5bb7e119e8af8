/** POST /build: docker's legacy builder protocol (tar context in, NDJSON progress out). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, badRequest } from '../../common/errors';
import { BuildError, type Builder, type BuildRequest } from '../../build/executor';
import { extractContext } from '../../build/contextfs';
import type { BuildMessage } from '../../build/output';
import { qBool, startStream, type Context } from '../http';
import type { Router } from '../router';

/** A JSON object-of-strings query value (buildargs, labels); null values (unset args) are dropped. */
function jsonMap(q: URLSearchParams, key: string): Record<string, string> {
  const raw = q.get(key);
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw badRequest(`invalid ${key}: ${(e as Error).message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${key}: expected a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) if (val !== null && val !== undefined) out[k] = String(val);
  return out;
}

function dockerfilePath(value: string | null): string {
  const p = path.posix.normalize((value || 'Dockerfile').replace(/^\/+/, ''));
  if (p === '..' || p.startsWith('../')) throw badRequest(`the Dockerfile (${value}) must be within the build context`);
  return p;
}

export function buildRoutes(r: Router, builder: Builder): void {
  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    if (q.get('remote')) throw badRequest('remote build contexts are not supported: send the context as the request body');
    const scratch = builder.scratch();
    try {
      const contextDir = path.join(scratch, 'context');
      fs.mkdirSync(contextDir);
      await extractContext(ctx.req, contextDir).catch((e: Error) => {
        throw badRequest(e.message.startsWith('invalid build context') ? e.message : `invalid build context: ${e.message}`);
      });
      const req: BuildRequest = {
        contextDir,
        dockerfile: dockerfilePath(q.get('dockerfile')),
        tags: q.getAll('t').filter(Boolean),
        buildArgs: jsonMap(q, 'buildargs'),
        target: q.get('target') || undefined,
        noCache: qBool(q, 'nocache'),
        labels: jsonMap(q, 'labels'),
        network: q.get('networkmode') || 'default',
        extraHosts: q.getAll('extrahosts').flatMap((h) => h.split(',')).filter(Boolean),
        rm: qBool(q, 'rm', true),
        forceRm: qBool(q, 'forcerm'),
        quiet: qBool(q, 'q'),
      };
      await run(ctx, builder, req);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
}

/** Streams the build; an error before the first message is an HTTP error, after it an errorDetail line. */
async function run(ctx: Context, builder: Builder, req: BuildRequest): Promise<void> {
  let out: ReturnType<typeof startStream> | undefined;
  const emit = (m: BuildMessage): void => {
    out ??= startStream(ctx, 'application/json');
    if (!out.destroyed) out.write(JSON.stringify(m) + '\n');
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
