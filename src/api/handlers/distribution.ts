/**
 * Registry routes: pull (POST /images/create?fromImage=, answered through `pullFromRegistry` from the images routes),
 * POST /images/{name}/push, POST /auth, GET /distribution/{name}/json. Progress is NDJSON; an error before the first
 * line is an HTTP error, after it an `errorDetail` line (as docker's flushing writer does).
 */
import { ApiError } from '../../common/errors';
import { decodeAuthHeader, ProgressStream, RegistryAuthError, type AuthConfig, type Distribution } from '../../registry/client';
import { searchFilters, searchRegistry } from '../../registry/client/search';
import { AUTH_CONFIG } from '../decode';
import { qFilters, qInt, readJsonBody, sendJson, startStream, type Context } from '../http';
import type { Router } from '../router';

function authOf(ctx: Context): AuthConfig {
  const h = ctx.req.headers['x-registry-auth'];
  try {
    return decodeAuthHeader(Array.isArray(h) ? h[0] : h);
  } catch (e) {
    if (e instanceof RegistryAuthError) throw new ApiError(400, e.message);
    throw e;
  }
}

/** Run a progress-reporting operation: the reply starts with its first line; a client that goes away cancels it. */
async function withProgress(ctx: Context, op: (p: ProgressStream, signal: AbortSignal) => Promise<void>): Promise<void> {
  const res = ctx.res;
  if (!res) throw new ApiError(400, 'this endpoint does not support connection upgrade');
  const ac = new AbortController();
  res.on('close', () => res.writableFinished || ac.abort());
  let started = false;
  const progress = new ProgressStream((line) => {
    if (!started) startStream(ctx, 'application/json');
    started = true;
    if (!res.writableEnded && !res.destroyed) res.write(line);
  });
  try {
    await op(progress, ac.signal);
  } catch (e) {
    if (!started) throw e;
    progress.error((e as Error).message);
  }
  res.end();
}

/** POST /images/create?fromImage=&tag=&platform= (the pull half of that route; import is in images.ts). */
export const pullHandler = (dist: Distribution) => (ctx: Context): Promise<void> => {
  const q = ctx.query;
  const auth = authOf(ctx);
  return withProgress(ctx, (p, signal) =>
    dist.pull({ fromImage: q.get('fromImage') ?? '', tag: q.get('tag') || undefined, platform: q.get('platform') || undefined, auth, signal }, p),
  );
};

export function distributionRoutes(r: Router, dist: Distribution): void {
  r.add('POST', '/images/{name*}/push', async (ctx) => {
    const auth = authOf(ctx);
    await withProgress(ctx, (p, signal) => dist.push(ctx.params.name, ctx.query.get('tag') || undefined, auth, p, signal));
  });

  r.add('GET', '/images/search', async (ctx) => {
    const q = ctx.query;
    const filters = searchFilters(qFilters(q));
    sendJson(ctx, 200, await searchRegistry(dist.hosts, q.get('term') ?? '', qInt(q, 'limit') ?? 25, filters, authOf(ctx)));
  });

  r.add('POST', '/auth', async (ctx) => {
    sendJson(ctx, 200, await dist.login(await readJsonBody<AuthConfig>(ctx, {}, AUTH_CONFIG)));
  });

  r.add('GET', '/distribution/{name*}/json', async (ctx) => {
    sendJson(ctx, 200, await dist.inspect(ctx.params.name, authOf(ctx)));
  });
}
