/** GET /system/df. */
import { badRequest } from '../../common/errors';
import { diskUsage, USAGE_KINDS, type DiskUsageDeps, type UsageKind } from '../../engine/disk-usage';
import { listView } from '../../engine/containers/view';
import type { ContainerNetworking } from '../../engine/containers/network';
import { sendJson, versionAtLeast } from '../http';
import type { Router } from '../router';

export function diskUsageRoutes(r: Router, deps: DiskUsageDeps & { networking: ContainerNetworking }): void {
  r.add('GET', '/system/df', async (ctx) => {
    // `type` (API 1.42+) narrows the answer; the kinds not asked for are null, as dockerd's.
    const asked = ctx.query.getAll('type');
    if (asked.length && versionAtLeast(ctx, '1.42')) {
      for (const t of asked) if (!USAGE_KINDS.includes(t as UsageKind)) throw badRequest(`unknown object type: ${t}`);
    }
    const kinds = asked.length && versionAtLeast(ctx, '1.42') ? (asked as UsageKind[]) : USAGE_KINDS;
    const du = diskUsage(deps, kinds);
    const net = (id: string) => ({ settings: deps.networking.settings(id), ports: deps.networking.ports(id) });
    sendJson(ctx, 200, {
      LayersSize: du.LayersSize ?? 0,
      Images: du.Images,
      Containers: du.Containers?.map(({ rec, sizeRw, sizeRootFs }) => ({
        ...listView(rec, net(rec.Id), deps.volumes.mountPointsOf(rec)),
        SizeRw: sizeRw,
        SizeRootFs: sizeRootFs,
      })) ?? null,
      Volumes: du.Volumes,
      BuildCache: du.BuildCache,
    });
  });
}
