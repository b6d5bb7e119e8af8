/** /networks/* routes. */
import type { NetworkService, CreateNetworkBody } from '../../network/service';
import type { ContainerNetworking, EndpointRequest, NetworkChange } from '../../engine/containers/network';
import type { EventBus } from '../../engine/events';
import { qFilters, readJsonBody, sendEmpty, sendJson } from '../http';
import type { Router } from '../router';

export function networkRoutes(r: Router, networks: NetworkService, events: EventBus, networking: ContainerNetworking): void {
  const emit = (action: string, id: string, name: string) => events.publish('network', action, id, { name, type: 'bridge' });

  r.add('GET', '/networks', async (ctx) => sendJson(ctx, 200, networks.list(qFilters(ctx.query))));

  r.add('POST', '/networks/create', async (ctx) => {
    const body = await readJsonBody<CreateNetworkBody>(ctx, {});
    const res = await networks.create(body);
    emit('create', res.Id, body.Name ?? '');
    sendJson(ctx, 201, res);
  });

  r.add('POST', '/networks/prune', async (ctx) => {
    const res = await networks.prune(qFilters(ctx.query));
    sendJson(ctx, 200, res);
  });

  r.add('GET', '/networks/{id}', async (ctx) => sendJson(ctx, 200, networks.inspect(ctx.params.id)));

  r.add('DELETE', '/networks/{id}', async (ctx) => {
    const n = networks.inspect(ctx.params.id);
    await networks.remove(ctx.params.id);
    emit('destroy', n.Id, n.Name);
    sendEmpty(ctx, 204);
  });

  const emitChange = (action: string, c: NetworkChange) => events.publish('network', action, c.networkId, { container: c.containerId, name: c.networkName, type: 'bridge' });

  r.add('POST', '/networks/{id}/connect', async (ctx) => {
    const body = await readJsonBody<{ Container?: string; EndpointConfig?: EndpointRequest | null }>(ctx, {});
    emitChange('connect', await networking.connect(body.Container ?? '', ctx.params.id, body.EndpointConfig ?? {}));
    sendEmpty(ctx, 200);
  });

  r.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const body = await readJsonBody<{ Container?: string; Force?: boolean }>(ctx, {});
    emitChange('disconnect', await networking.disconnect(body.Container ?? '', ctx.params.id));
    sendEmpty(ctx, 200);
  });
}
