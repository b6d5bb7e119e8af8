/** /volumes/* routes. */
import type { CreateVolumeBody, VolumeService } from '../../engine/volumes';
import { qBool, qFilters, readJsonBody, sendEmpty, sendJson } from '../http';
import type { Router } from '../router';

export function volumeRoutes(r: Router, volumes: VolumeService): void {
  r.add('GET', '/volumes', async (ctx) => sendJson(ctx, 200, volumes.list(qFilters(ctx.query))));

  r.add('POST', '/volumes/create', async (ctx) => {
    sendJson(ctx, 201, volumes.create(await readJsonBody<CreateVolumeBody>(ctx, {})));
  });

  r.add('POST', '/volumes/prune', async (ctx) => sendJson(ctx, 200, volumes.prune(qFilters(ctx.query))));

  r.add('GET', '/volumes/{name}', async (ctx) => sendJson(ctx, 200, volumes.inspect(ctx.params.name)));

  r.add('DELETE', '/volumes/{name}', async (ctx) => {
    volumes.remove(ctx.params.name, qBool(ctx.query, 'force'));
    sendEmpty(ctx, 204);
  });
}
