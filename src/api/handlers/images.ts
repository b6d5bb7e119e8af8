/** /images/* routes. */
import type { ImageService, UsedBy } from '../../image/service';
import { ApiError, badRequest } from '../../common/errors';
import { drain, qBool, qFilters, requestBody, sendEmpty, sendJson, startStream, type Context } from '../http';
import type { Handler, Router } from '../router';

/** `pull` serves POST /images/create?fromImage= (the registry client, loaded on first use). */
export function imageRoutes(r: Router, images: ImageService, usedBy: UsedBy, pull: Handler): void {
  r.add('GET', '/images/json', async (ctx) => {
    sendJson(ctx, 200, images.list({ all: qBool(ctx.query, 'all'), filters: qFilters(ctx.query) }));
  });

  r.add('POST', '/images/create', async (ctx) => {
    const q = ctx.query;
    const fromSrc = q.get('fromSrc');
    if (fromSrc === null) return pull(ctx);
    if (fromSrc !== '-') throw badRequest('importing from a URL is not supported: use fromSrc=- with the tarball as the body');
    const id = await images.importTar(requestBody(ctx.req), {
      repo: q.get('repo') || undefined,
      tag: q.get('tag') || undefined,
      changes: q.getAll('changes').filter(Boolean),
      message: q.get('message') || undefined,
      sourceDateEpoch: epochParam(q.get('sourceDateEpoch')),
      platform: q.get('platform') || undefined,
    });
    const out = startStream(ctx, 'application/json');
    out.end(JSON.stringify({ status: id }) + '\n');
  });

  // As docker: 200 and a refused archive reported in the stream (docker-py raises ImageLoadError from that line).
  r.add('POST', '/images/load', async (ctx) => {
    const outcome = await images.load(requestBody(ctx.req)).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 400) return e;
      throw e;
    });
    if (outcome instanceof ApiError) await drain(ctx.req);
    const out = startStream(ctx, 'application/json');
    const lines = outcome instanceof ApiError ? [{ errorDetail: { message: outcome.message }, error: outcome.message }] : outcome.map((m) => ({ stream: m + '\n' }));
    for (const l of lines) out.write(JSON.stringify(l) + '\n');
    out.end();
  });

  r.add('GET', '/images/get', async (ctx) => save(ctx, images, ctx.query.getAll('names')));
  r.add('GET', '/images/{name*}/get', async (ctx) => save(ctx, images, [ctx.params.name]));

  r.add('POST', '/images/prune', async (ctx) => {
    sendJson(ctx, 200, await images.prune({ filters: qFilters(ctx.query) }, usedBy));
  });

  r.add('GET', '/images/{name*}/json', async (ctx) => sendJson(ctx, 200, images.inspect(ctx.params.name)));
  r.add('GET', '/images/{name*}/history', async (ctx) => sendJson(ctx, 200, images.history(ctx.params.name)));

  r.add('POST', '/images/{name*}/tag', async (ctx) => {
    images.tag(ctx.params.name, ctx.query.get('repo') ?? '', ctx.query.get('tag') || 'latest');
    sendEmpty(ctx, 201);
  });

  r.add('DELETE', '/images/{name*}', async (ctx) => {
    const result = await images.remove(ctx.params.name, { force: qBool(ctx.query, 'force'), noprune: qBool(ctx.query, 'noprune') }, usedBy);
    sendJson(ctx, 200, result);
  });
}

/** Berth's extension of import (`berth image bootstrap`): a fixed `created` time, seconds since the epoch. */
function epochParam(v: string | null): number | undefined {
  if (!v) return undefined;
  if (!/^\d+$/.test(v)) throw badRequest(`invalid sourceDateEpoch ${JSON.stringify(v)}: must be seconds since the epoch`);
  return Number(v);
}

async function save(ctx: Context, images: ImageService, names: string[]): Promise<void> {
  if (!names.length) throw badRequest('no image names given');
  for (const n of names) images.get(n); // 404 before the stream starts
  const out = startStream(ctx, 'application/x-tar');
  await images.save(names, out);
}
