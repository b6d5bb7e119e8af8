/** Observing and changing containers: stats, update, archive (cp), export, changes (diff), commit. */
import { pipeline } from 'node:stream/promises';
import { badRequest, conflict } from '../../common/errors';
import { changes, encodeStat, exportRootfs, extractInto, statPath, withArchive } from '../../engine/containers/archive';
import { commitContainer } from '../../engine/containers/commit';
import type { ContainerService } from '../../engine/containers/service';
import { emptyStats, sample, type StatsJson } from '../../engine/containers/stats';
import type { UpdateBody } from '../../engine/containers/update';
import type { ImageService } from '../../image/service';
import type { ContainerConfig } from '../../schema/container';
import { CONTAINER_CONFIG, UPDATE_CONTAINER } from '../decode';
import { qBool, readJsonBody, requestBody, res, sendEmpty, sendJson, startStream } from '../http';
import type { Router } from '../router';

const STATS_INTERVAL_MS = 1000;
const STAT_HEADER = 'X-Docker-Container-Path-Stat';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function containerOpsRoutes(r: Router, svc: ContainerService, images: ImageService): void {
  const store = svc.store;

  r.add('GET', '/containers/{id}/stats', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const stream = qBool(ctx.query, 'stream', true);
    const oneShot = qBool(ctx.query, 'one-shot');
    if (oneShot && stream) throw badRequest('cannot have stream=true and one-shot=true');
    const out = startStream(ctx, 'application/json');
    const running = () => rec.State.Running && !rec.State.Restarting && !!rec.Instance;
    if (!running()) {
      out.end(JSON.stringify(emptyStats(rec)) + '\n');
      return;
    }
    // docker: without one-shot the first reply already has precpu_stats, from a sample one interval earlier
    let prev: StatsJson | undefined = oneShot ? undefined : sample(rec);
    if (prev) await sleep(STATS_INTERVAL_MS);
    while (!out.destroyed) {
      if (!running()) break;
      const s = sample(rec, prev);
      out.write(JSON.stringify(s) + '\n');
      if (!stream) break;
      prev = s;
      await sleep(STATS_INTERVAL_MS);
    }
    out.end();
  });

  r.add('POST', '/containers/{id}/update', async (ctx) => {
    const body = await readJsonBody<UpdateBody>(ctx, {}, UPDATE_CONTAINER);
    sendJson(ctx, 200, svc.update(ctx.params.id, body));
  });

  r.add('GET', '/containers/{id}/changes', async (ctx) => {
    const rec = store.get(ctx.params.id);
    const list = changes(store.paths(rec.Id).upper, images.layerDirs(rec.Image));
    sendJson(ctx, 200, list.length ? list : null);
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
    const rec = store.get(ctx.params.id);
    if (rec.HostConfig.ReadonlyRootfs) throw conflict('container rootfs is marked read-only');
    await svc.withRootfs(rec.Id, false, (root) => extractInto(root, p, ctx.params.id, requestBody(ctx.req), {
      noOverwriteDirNonDir: qBool(ctx.query, 'noOverwriteDirNonDir'),
      copyUIDGID: qBool(ctx.query, 'copyUIDGID'),
    }));
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
    const rec = store.get(ref);
    const pause = qBool(q, 'pause', true) && rec.State.Running && !rec.State.Paused;
    if (pause) await svc.pause(rec.Id, true);
    let id: string;
    try {
      id = await commitContainer(images.store, rec, store.paths(rec.Id).upper, {
        comment: q.get('comment') ?? undefined,
        author: q.get('author') ?? undefined,
        changes: q.getAll('changes').filter(Boolean),
        config,
      });
    } finally {
      if (pause) await svc.pause(rec.Id, false);
    }
    const repo = q.get('repo');
    if (repo) images.tag(id, repo, q.get('tag') || undefined);
    svc.commitEvent(rec, id);
    sendJson(ctx, 201, { Id: id });
  });
}

function archivePathParam(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw badRequest('Bad parameter: path cannot be empty');
  return p;
}
