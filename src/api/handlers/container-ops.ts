/** Observing and changing containers: stats, update, archive (cp), export, changes (diff), commit (HTTP only; the work is in engine/containers). */
import { pipeline } from 'node:stream/promises';
import { badRequest } from '../../common/errors';
import { encodeStat, exportRootfs, statPath, withArchive } from '../../engine/containers/archive';
import { commit } from '../../engine/containers/commit';
import type { ContainerService } from '../../engine/containers/service';
import { streamStats } from '../../engine/containers/stats';
import type { UpdateBody } from '../../engine/containers/update';
import type { ImageService } from '../../image/service';
import type { ContainerConfig } from '../../schema/container';
import { CONTAINER_CONFIG, UPDATE_CONTAINER } from '../decode';
import { qBool, readJsonBody, requestBody, res, sendEmpty, sendJson, startStream } from '../http';
import type { Router } from '../router';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

export function containerOpsRoutes(r: Router, svc: ContainerService, images: ImageService): void {
  const store = svc.store;

  r.add('GET', '/containers/{id}/stats', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const stream = qBool(ctx.query, 'stream', true);
    const oneShot = qBool(ctx.query, 'one-shot');
    if (oneShot && stream) throw badRequest('cannot have stream=true and one-shot=true');
    const out = startStream(ctx, 'application/json');
    await streamStats(rec, { stream, oneShot }, (s) => out.write(JSON.stringify(s) + '\n'), () => out.destroyed);
    out.end();
  });

  r.add('POST', '/containers/{id}/update', async (ctx) => {
    const body = await readJsonBody<UpdateBody>(ctx, {}, UPDATE_CONTAINER);
    sendJson(ctx, 200, svc.update(ctx.params.id, body));
  });

  r.add('GET', '/containers/{id}/changes', async (ctx) => {
    sendJson(ctx, 200, svc.changes(ctx.params.id));
  });

  r.add('HEAD', '/containers/{id}/archive', async (ctx) => {
    const p = archivePathParam(ctx.query);
    await svc.withRootfs(ctx.params.id, false, async (root) => {
      const stat = statPath(root, p, ctx.params.id);
      res(ctx).writeHead(200, { [STAT_HEADER]: encodeStat(stat), 'Content-Type': 'application/x-tar' });
      res(ctx).end();
    });
  });

  r.add('GET', '/containers/{id}/archive', async (ctx) => {
    const p = archivePathParam(ctx.query);
    await svc.withRootfs(ctx.params.id, false, (root) => withArchive(root, p, ctx.params.id, async (stat, tar) => {
      const out = res(ctx);
      out.writeHead(200, { [STAT_HEADER]: encodeStat(stat), 'Content-Type': 'application/x-tar' });
      await pipeline(tar, out).catch(() => out.destroy());
    }));
  });

  r.add('PUT', '/containers/{id}/archive', async (ctx) => {
    const p = archivePathParam(ctx.query);
    await svc.putArchive(ctx.params.id, p, requestBody(ctx.req), {
      noOverwriteDirNonDir: qBool(ctx.query, 'noOverwriteDirNonDir'),
      copyUIDGID: qBool(ctx.query, 'copyUIDGID'),
    });
    sendEmpty(ctx, 200);
  });

  r.add('GET', '/containers/{id}/export', async (ctx) => {
    await svc.withRootfs(ctx.params.id, true, async (root) => {
      const out = res(ctx);
      out.writeHead(200, { 'Content-Type': 'application/x-tar' });
      await pipeline(exportRootfs(root), out).catch(() => out.destroy());
    });
  });

  r.add('POST', '/commit', async (ctx) => {
    const q = ctx.query;
    const ref = q.get('container');
    if (!ref) throw badRequest('No container name or ID supplied');
    const config = await readJsonBody<ContainerConfig | null>(ctx, null, CONTAINER_CONFIG);
    const id = await commit(svc, images, ref, {
      pause: qBool(q, 'pause', true),
      comment: q.get('comment') ?? undefined,
      author: q.get('author') ?? undefined,
      changes: q.getAll('changes').filter(Boolean),
      config,
      repo: q.get('repo') || undefined,
      tag: q.get('tag') || undefined,
    });
    sendJson(ctx, 201, { Id: id });
  });
}

function archivePathParam(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw badRequest('Bad parameter: path cannot be empty');
  return p;
}
