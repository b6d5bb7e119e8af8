/** Network CRUD and filters over the store: docker 24's checks and wording. Callers hold NetworkService's lock for changes. */
import { ApiError, badRequest, conflict, notFound } from '../common/errors';
import { newId } from '../common/ids';
import { parseTimestamp } from '../common/duration';
import { checkFilterKeys, labelMatches, type Filters } from '../common/filters';
import { log } from '../common/log';
import type { Bridges, OwnNames } from './bridges';
import { BRIDGE_NAME, bridgeSettings } from './bridge-options';
import type { CreateNetworkBody } from './create-request';
import { AddressPool, chooseGateway, formatCidr, formatIp, hostRouteSubnets, newPool, parseSubnet } from './ipam';
import { routesJson } from './iproute';
import { NetworkRecord, NetworkStore, ipamPool } from './store';
import { dockerNetwork, type DockerNetwork } from './views';

const PREDEFINED = ['bridge', 'host', 'none'];

export class Networks {
  constructor(
    private readonly store: NetworkStore,
    private readonly bridges: Bridges,
    private readonly names: OwnNames,
    private readonly defaultSubnet: string,
    private readonly pools: AddressPool[],
  ) {}

  /** Records for docker's three predefined networks (bridge on the default subnet, host, none). */
  async ensureDefault(): Promise<void> {
    const existing = this.store.listNetworks();
    for (const name of PREDEFINED) {
      const old = existing.find((n) => n.name === name);
      if (name !== 'bridge' && old) continue;
      if (old && old.subnet === this.defaultSubnet && old.bridge === this.names.defaultBridge) continue;
      if (old && this.store.endpointsOn(old.id).length) {
        log.warn('default network settings changed but containers are attached; keeping the old ones', { subnet: old.subnet });
        continue;
      }
      const rec: NetworkRecord = {
        id: old?.id ?? newId(), name, driver: name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null',
        userSubnet: false, internal: false, labels: {}, options: {}, created: old?.created ?? new Date().toISOString(), predefined: true,
      };
      if (name === 'bridge') {
        const subnet = parseSubnet(this.defaultSubnet);
        Object.assign(rec, { subnet: formatCidr(subnet), gateway: formatIp(chooseGateway(subnet)), bridge: this.names.defaultBridge });
        rec.options = { 'com.docker.network.bridge.default_bridge': 'true', [BRIDGE_NAME]: this.names.defaultBridge };
      }
      this.store.saveNetwork(rec);
    }
  }

  /** docker 24's checks and wording (daemon/network.go, libnetwork's controller, bridge driver and IPAM). */
  async create(body: CreateNetworkBody): Promise<{ Id: string; Warning: string }> {
    const name = body.Name ?? '';
    if ([...PREDEFINED, 'default'].includes(name)) throw new ApiError(403, `operation is not permitted on predefined ${name} network `);
    const driver = body.Driver || 'bridge';
    const networks = this.store.listNetworks();
    const same = networks.find((n) => n.name === name);
    // API < 1.44: a duplicate name is refused only when the client asks (the docker CLI always does)
    if (same && body.CheckDuplicate) throw conflict(`network with name ${name} already exists`);
    if (!name.trim()) throw badRequest(`invalid name: ${name}`);
    if (driver === 'host' || driver === 'null') throw new ApiError(403, `only one instance of "${driver}" network is allowed`);
    if (driver !== 'bridge') throw notFound(`plugin "${driver}" not found`);
    if (body.Scope === 'swarm') throw new ApiError(403, 'cannot create a swarm scoped network when swarm is not active');
    if (body.Ingress) throw new ApiError(403, 'Ingress network can only be global scope network');
    if (body.IPAM?.Driver && body.IPAM.Driver !== 'default') throw notFound(`plugin "${body.IPAM.Driver}" not found`);
    const options = { ...(body.Options ?? {}) };
    const settings = bridgeSettings(options);
    // docker's getIpamConfig: each config belongs to the family of its subnet; the bridge driver takes one of each
    const configs = body.IPAM?.Config ?? [];
    const [v4, v6] = ([4, 6] as const).map((f) => configs.filter((c) => ((c.Subnet ?? '').includes(':') ? 6 : 4) === f));
    if (v4.length > 1 || v6.length > 1) throw new ApiError(403, 'bridge driver doesn\'t support multiple subnets');
    const taken = networks.flatMap((n) => [ipamPool(n, 4), ipamPool(n, 6)].flatMap((p) => (p ? [parseSubnet(p.subnet)] : [])));
    const pool4 = newPool(v4[0] ?? {}, name, [...taken, ...(v4[0]?.Subnet ? [] : hostRouteSubnets(await routesJson()))], this.pools, 4);
    // as docker 24: an IPv6 network needs a subnet of its own (no default IPv6 pools); one given without
    // EnableIPv6 is kept and shown, and no container gets an address from it
    const pool6 = v6[0] || body.EnableIPv6 ? newPool(v6[0] ?? {}, name, taken, this.pools, 6) : undefined;
    const id = newId();
    const bridge = settings.bridgeName || `${this.names.bridgePrefix}-${id}`.slice(0, 15);
    if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) throw badRequest(`invalid bridge name: ${bridge}`);
    const clash = networks.find((n) => n.bridge === bridge);
    if (clash) throw new ApiError(403, `cannot create network ${id} (${bridge}): conflicts with network ${clash.id} (${bridge}): networks have same bridge name`);
    this.store.saveNetwork({
      id, name, driver: 'bridge', ...pool4, userSubnet: !!v4[0]?.Subnet,
      ...(body.EnableIPv6 ? { ipv6: true } : {}), ...(pool6 ? { v6: pool6 } : {}),
      ipamOptions: body.IPAM?.Options ?? {}, scope: body.Scope || undefined, attachable: !!body.Attachable,
      bridge, internal: !!body.Internal, labels: body.Labels ?? {}, options, created: new Date().toISOString(), predefined: false,
    });
    return { Id: id, Warning: same ? `Network with name ${name} (id : ${same.id}) already exists` : '' };
  }

  list(f: Filters = {}): DockerNetwork[] {
    checkFilterKeys(f, ['name', 'id', 'driver', 'label', 'type', 'dangling', 'scope']);
    const endpoints = this.store.listEndpoints();
    return this.store.listNetworks().filter((n) => {
      const used = endpoints.some((e) => e.networkId === n.id);
      return (!f.name || f.name.some((v) => n.name.includes(v))) &&
        (!f.id || f.id.some((v) => n.id.startsWith(v))) &&
        (!f.driver || f.driver.includes(n.driver)) &&
        (!f.scope || f.scope.includes('local')) &&
        (!f.type || f.type.includes(n.predefined ? 'builtin' : 'custom')) &&
        (!f.dangling || f.dangling.some((v) => (v === 'true' || v === '1') === (!used && !n.predefined))) &&
        matchLabels(n.labels, f.label);
    }).map((n) => dockerNetwork(n, {}));
  }

  inspect(idOrName: string): DockerNetwork {
    const n = this.find(idOrName);
    const containers: DockerNetwork['Containers'] = {};
    for (const e of this.store.endpointsOn(n.id)) {
      containers[e.containerId] = {
        Name: e.containerName, EndpointID: e.endpointId, MacAddress: e.mac ?? '',
        IPv4Address: e.ip ? `${e.ip}/${e.prefixLen}` : '', IPv6Address: e.ip6 ? `${e.ip6}/${e.prefixLen6}` : '',
      };
    }
    return dockerNetwork(n, containers);
  }

  async remove(idOrName: string): Promise<void> {
    const n = this.find(idOrName);
    if (n.predefined) throw new ApiError(403, `${n.name} is a pre-defined network and cannot be removed`);
    if (this.store.endpointsOn(n.id).length) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    await this.drop(n);
  }

  /** docker network prune's filters (label, label!, until: timestamp or duration ago), checked before any work. */
  pruneFilter(f: Filters = {}): (n: NetworkRecord) => boolean {
    checkFilterKeys(f, ['label', 'label!', 'until']);
    if ((f.until?.length ?? 0) > 1) throw badRequest('more than one until filter specified');
    const until = f.until?.[0] ? parseUntil(f.until[0]) : Infinity;
    return (n) => Date.parse(n.created) <= until && matchLabels(n.labels, f.label) && !(f['label!']?.length && matchLabels(n.labels, f['label!']));
  }

  /** docker network prune: every unused user network that `wanted` (pruneFilter) selects. */
  async prune(wanted: (n: NetworkRecord) => boolean): Promise<{ NetworksDeleted: string[] }> {
    const deleted: string[] = [];
    for (const n of this.store.listNetworks()) {
      if (n.predefined || this.store.endpointsOn(n.id).length || !wanted(n)) continue;
      await this.drop(n);
      deleted.push(n.name);
    }
    return { NetworksDeleted: deleted };
  }

  /** A network as a container names it: as find, and "default" is bridge. */
  resolve(idOrName: string): NetworkRecord {
    return this.find(idOrName === 'default' ? 'bridge' : idOrName);
  }

  /** Full id, exact name (unique: CheckDuplicate=false makes duplicates), then unique id prefix (docker's order). */
  find(idOrName: string): NetworkRecord {
    const all = this.store.listNetworks();
    const byId = all.find((n) => n.id === idOrName);
    if (byId) return byId;
    const byName = all.filter((n) => n.name === idOrName);
    if (byName.length > 1) throw badRequest(`network ${idOrName} is ambiguous (${byName.length} matches found based on name)`);
    if (byName.length === 1) return byName[0];
    const byPrefix = idOrName ? all.filter((n) => n.id.startsWith(idOrName)) : [];
    if (byPrefix.length === 1) return byPrefix[0];
    if (byPrefix.length > 1) throw badRequest(`network ${idOrName} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    throw notFound(`network ${idOrName} not found`);
  }

  /** The bridge released, the record gone, and the bridge deleted if Berth named it (after a crash netavark may not have removed it). */
  private async drop(n: NetworkRecord): Promise<void> {
    await this.bridges.releaseBridge(n);
    this.store.deleteNetwork(n.id);
    await this.bridges.deleteOwnBridge(n.bridge);
  }
}

/** label filters: all must match. */
const matchLabels = (labels: Record<string, string>, wanted?: string[]): boolean => (wanted ?? []).every((w) => labelMatches(labels, w));

function parseUntil(v: string): number {
  try {
    return parseTimestamp(v);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}
