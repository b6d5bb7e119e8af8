/** /networks/* routes. */
import type { NetworkService } from '../../network/service';
import { parseCreateRequest } from '../../network/create-request';
import type { ContainerNetworking, EndpointRequest, NetworkChange } from '../../engine/containers/network';
import type { EventBus } from '../../engine/events';
import { CONNECT_NETWORK } from '../decode';
import { qFilters, readJsonBody, sendEmpty, sendJson } from '../http';
import type { Router } from '../router';

export function networkRoutes(r: Router, networks: NetworkService, events: EventBus, networking: ContainerNetworking): void {
  const emit = (action: string, id: string, name: string) => events.publish('network', action, id, { name, type: 'bridge' });

  r.add('GET', '/networks', async (ctx) => sendJson(ctx, 200, networks.list(qFilters(ctx.query))));

  r.add('POST', '/networks/create', async (ctx) => {
    // typed by parseCreateRequest, with dockerd's NetworkCreateRequest wording
    const body = parseCreateRequest(await readJsonBody<unknown>(ctx, {}, { fields: {} }));
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
    const body = await readJsonBody<{ Container?: string; EndpointConfig?: EndpointRequest | null }>(ctx, {}, CONNECT_NETWORK);
    const change = await networking.connect(body.Container ?? '', ctx.params.id, body.EndpointConfig ?? {});
    if (change) emitChange('connect', change);
    sendEmpty(ctx, 200);
  });

  r.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const body = await readJsonBody<{ Container?: string; Force?: boolean }>(ctx, {}, CONNECT_NETWORK);
    const change = await networking.disconnect(body.Container ?? '', ctx.params.id, !!body.Force);
    if (change) emitChange('disconnect', change);
    sendEmpty(ctx, 200);
  });
}
