/**
 * Swarm and managed plugins: Berth is a single-host engine, so it answers these endpoints as a Docker engine that is
 * not in a swarm and has no plugins installed does. Clients rely on those answers (tear-down code calls
 * `POST /swarm/leave?force=true` and tolerates only 503/406), so none of these may be a 404 "page not found".
 */
import { ApiError } from '../../common/errors';
import { sendJson } from '../http';
import type { Router } from '../router';

/** dockerd's errNoManager for a node that is in no swarm (daemon/cluster/helpers.go), a 503. */
const NOT_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** dockerd's errNoSwarm, a 503. */
const NO_SWARM = 'This node is not part of a swarm';
/** Docker would make this node a swarm member; Berth has no swarm mode (a deliberate difference, docs/compatibility). */
const NO_SWARM_MODE = 'Berth does not support swarm mode: this node cannot join or create a swarm';

const unavailable = (message: string) => async (): Promise<void> => {
  throw new ApiError(503, message);
};

/** Every swarm-scoped endpoint of the Engine API 1.43: method and path. */
const MANAGER_ONLY: [string, string][] = [
  ['GET', '/swarm'],
  ['POST', '/swarm/update'],
  ['GET', '/swarm/unlockkey'],
  ['POST', '/swarm/unlock'],
  ...['nodes', 'services', 'tasks', 'secrets', 'configs'].map((kind): [string, string] => ['GET', `/${kind}`]),
  ...['nodes', 'services', 'tasks', 'secrets', 'configs'].map((kind): [string, string] => ['GET', `/${kind}/{id}`]),
  ...['nodes', 'services', 'secrets', 'configs'].map((kind): [string, string] => ['DELETE', `/${kind}/{id}`]),
  ...['nodes', 'services', 'secrets', 'configs'].map((kind): [string, string] => ['POST', `/${kind}/{id}/update`]),
  ...['services', 'secrets', 'configs'].map((kind): [string, string] => ['POST', `/${kind}/create`]),
  ['GET', '/services/{id}/logs'],
  ['GET', '/tasks/{id}/logs'],
];

export function swarmRoutes(r: Router): void {
  for (const [method, pattern] of MANAGER_ONLY) r.add(method, pattern, unavailable(NOT_MANAGER));
  r.add('POST', '/swarm/leave', unavailable(NO_SWARM));
  r.add('POST', '/swarm/init', unavailable(NO_SWARM_MODE));
  r.add('POST', '/swarm/join', unavailable(NO_SWARM_MODE));
  // Only cluster (CSI) volumes can be updated, and they live in a swarm.
  r.add('PUT', '/volumes/{name}', unavailable('volume update only valid for cluster volumes, but swarm is unavailable'));
}

/** dockerd's answer for a plugin it does not have (plugin/store.go). */
const pluginNotFound = async (ctx: { params: Record<string, string> }): Promise<void> => {
  throw new ApiError(404, `plugin "${ctx.params.name}" not found`);
};
const NO_PLUGINS = 'Berth does not support managed plugins';

export function pluginRoutes(r: Router): void {
  r.add('GET', '/plugins', async (ctx) => sendJson(ctx, 200, []));
  r.add('GET', '/plugins/{name*}/json', pluginNotFound);
  r.add('DELETE', '/plugins/{name*}', pluginNotFound);
  for (const op of ['enable', 'disable', 'upgrade', 'push', 'set']) r.add('POST', `/plugins/{name*}/${op}`, pluginNotFound);
  for (const [method, pattern] of [['GET', '/plugins/privileges'], ['POST', '/plugins/pull'], ['POST', '/plugins/create']]) {
    r.add(method, pattern, async () => {
      throw new ApiError(501, NO_PLUGINS);
    });
  }
}
