/** /volumes/* routes. */
import type { CreateVolumeBody, VolumeService } from '../../engine/volumes';
import { CREATE_VOLUME } from '../decode';
import { qBool, qFilters, readJsonBody, sendEmpty, sendJson, versionAtLeast } from '../http';
import type { Router } from '../router';

export function volumeRoutes(r: Router, volumes: VolumeService): void {
  r.add('GET', '/volumes', async (ctx) => sendJson(ctx, 200, volumes.list(qFilters(ctx.query))));

  r.add('POST', '/volumes/create', async (ctx) => {
    sendJson(ctx, 201, volumes.create(await readJsonBody<CreateVolumeBody>(ctx, {}, CREATE_VOLUME)));
  });

  r.add('POST', '/volumes/prune', async (ctx) => {
    const filters = qFilters(ctx.query);
    // Before API 1.42 prune removed every unused volume; since, only anonymous ones unless all=true (dockerd's router).
    if (!versionAtLeast(ctx, '1.42') && !filters.all) filters.all = ['true'];
    sendJson(ctx, 200, volumes.prune(filters));
  });

  r.add('GET', '/volumes/{name}', async (ctx) => sendJson(ctx, 200, volumes.inspect(ctx.params.name)));

  r.add('DELETE', '/volumes/{name}', async (ctx) => {
    volumes.remove(ctx.params.name, qBool(ctx.query, 'force'));
    sendEmpty(ctx, 204);
  });
}
