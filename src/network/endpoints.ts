/** A container's endpoints: attach/detach with netavark, their addresses and ports, and their Docker views. Callers hold NetworkService's lock for changes. */
import { ApiError, badRequest, notFound } from '../common/errors';
import { newId, shortId } from '../common/ids';
import { log } from '../common/log';
import type { PublishSpec } from '../common/ports';
import { endpointAddressesOn } from './addresses';
import { bridgeSettings } from './bridge-options';
import type { Bridges } from './bridges';
import { macForIp, parseIp, parseMac } from './ipam';
import { isolateBridgePorts } from './iproute';
import { Netavark, netavarkConfig } from './netavark';
import { checkPortConflicts, DockerListPort, dockerListPorts, hostPortFinder, resolvePortMappings, type HostPortPublisher } from './ports';
import { EndpointRecord, NetworkRecord, NetworkStore } from './store';
import { endpointInfo, portMap, type DockerNetworkSettings, type EndpointInfo } from './views';

export interface AttachOptions {
  network: string; // name, id or id prefix; "default" means bridge
  aliases?: string[];
  ip?: string;
  /** docker --ip6 */
  ip6?: string;
  mac?: string;
  /** What to publish (the first network only). */
  ports?: PublishSpec;
  /** container config ExposedPorts with the image's merged in, as NetworkSettings.Ports shows them */
  exposedPorts?: Record<string, unknown> | null;
}

const NO_PORTS: PublishSpec = { bindings: [], exposed: [], publishAll: false };

export class Endpoints {
  constructor(
    private readonly store: NetworkStore,
    private readonly netavark: Netavark,
    private readonly bridges: Bridges,
    /** A rootless daemon's host side of published ports (netavark's rules only reach its own network namespace). */
    private readonly hostPorts?: HostPortPublisher,
  ) {}

  /** Join network `n`: the next free ethN in the container's netns, one netavark setup with only that network. */
  async attach(n: NetworkRecord, containerId: string, name: string, nsPath: string, o: AttachOptions): Promise<EndpointInfo> {
    if (this.store.getEndpoint(containerId, n.id)) throw new ApiError(403, `endpoint with name ${name} already exists in network ${n.name}`);
    const taken = new Set(this.store.listEndpoints(containerId).map((e) => e.iface ?? 'eth0'));
    let index = 0;
    while (taken.has(`eth${index}`)) index++;
    const rec: EndpointRecord = {
      containerId, containerName: name, networkId: n.id, endpointId: newId(), netnsPath: nsPath, aliases: [], dnsNames: [],
      ports: [], exposedPorts: o.exposedPorts ?? {}, setupDone: false, iface: `eth${index}`,
    };
    if (n.driver !== 'bridge') {
      if (o.ip || o.ip6 || o.aliases?.length) throw badRequest(`user specified IP address and aliases are not supported on network ${n.name}`);
      rec.setupDone = true;
      this.store.saveEndpoint(rec);
      return endpointInfo(rec, n);
    }
    const fixed = o.ip || o.ip6;
    if (fixed && n.predefined) throw badRequest('user specified IP address is supported on user defined networks only');
    if ((o.ip && !n.userSubnet) || (o.ip6 && !n.v6)) throw badRequest('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (o.aliases?.length && n.predefined) throw badRequest('network-scoped aliases are only supported for user-defined networks');
    const others = this.store.listEndpoints();
    const addresses = endpointAddressesOn(n, this.store.endpointsOn(n.id), o.ip, o.ip6);
    const existingPorts = others.flatMap((e) => e.ports);
    const ports = await resolvePortMappings(o.ports ?? NO_PORTS, hostPortFinder(new Set(existingPorts.map((p) => `${p.protocol}/${p.hostPort}`))));
    checkPortConflicts(ports, existingPorts);
    const dns = !n.predefined;
    Object.assign(rec, {
      ...addresses, mac: o.mac ? parseMac(o.mac) : macForIp(parseIp(addresses.ip)!), ports, aliases: o.aliases ?? [],
      dnsNames: dns ? unique([name, shortId(containerId), ...(o.aliases ?? [])]) : [], requestedIp: o.ip, requestedIp6: o.ip6,
    });
    // before any rule exists: a port some host program holds is refused (rootless: slirp4netns's listen is the check)
    await this.bridges.holdPorts(rec);
    rec.netavark = netavarkConfig(rec, n);
    this.store.saveEndpoint(rec); // before setup: a crash in between leaves a record that reconcile tears down
    try {
      const status = await this.netavark.setup(nsPath, rec.netavark);
      const iface = status[n.id]?.interfaces?.[rec.iface!];
      if (iface?.mac_address) rec.mac = iface.mac_address;
    } catch (e) {
      await this.undo(rec);
      throw new ApiError(500, `failed to set up network ${n.name} for container ${name}: ${(e as Error).message}`);
    }
    if (this.hostPorts && ports.length) {
      try {
        rec.hostForwards = await this.hostPorts.publish(ports);
      } catch (e) {
        await this.undo(rec);
        throw e;
      }
    }
    rec.setupDone = true;
    this.store.saveEndpoint(rec);
    await this.bridges.keepBridge(n);
    if (!bridgeSettings(n.options).icc) await isolateBridgePorts(n.bridge!);
    return endpointInfo(rec, n);
  }

  /** Leave network `n` (netavark teardown of that network only); the netns and the other endpoints stay. */
  async detachNetwork(n: NetworkRecord, containerId: string): Promise<EndpointInfo> {
    const e = this.store.getEndpoint(containerId, n.id);
    if (!e) throw new ApiError(500, `container ${containerId} is not connected to network ${n.name}`);
    await this.bridges.teardown(e);
    this.store.deleteEndpoint(containerId, n.id);
    return endpointInfo(e, n);
  }

  /** docker's forced disconnect of a container that is gone: its endpoint on `n`, found by container name or id. */
  async forceDelete(n: NetworkRecord, container: string): Promise<{ containerId: string; networkId: string; networkName: string }> {
    const e = this.store.endpointsOn(n.id).find((x) => x.containerName === container || x.containerId === container);
    if (!e) throw notFound(`endpoint ${container} not found`);
    await this.bridges.teardown(e);
    this.store.deleteEndpoint(e.containerId, n.id);
    return { containerId: e.containerId, networkId: n.id, networkName: n.name };
  }

  /**
   * The endpoints as docker shows them in the container's inspect, or undefined. The deprecated top-level address
   * fields are the default bridge's endpoint's, empty on other networks (docker's getDefaultNetworkSettings).
   */
  networkSettings(containerId: string): DockerNetworkSettings | undefined {
    const attached = this.store.attached(containerId);
    if (!attached.length) return undefined;
    const infos = attached.map(({ e, n }) => endpointInfo(e, n));
    const s = infos.find((i) => i.networkName === 'bridge')?.settings;
    return {
      SandboxKey: attached[0].e.netnsPath, Ports: portMap(attached.map((a) => a.e)), EndpointID: s?.EndpointID ?? '',
      IPAddress: s?.IPAddress ?? '', IPPrefixLen: s?.IPPrefixLen ?? 0, Gateway: s?.Gateway ?? '', GlobalIPv6Address: s?.GlobalIPv6Address ?? '',
      GlobalIPv6PrefixLen: s?.GlobalIPv6PrefixLen ?? 0, IPv6Gateway: s?.IPv6Gateway ?? '', MacAddress: s?.MacAddress ?? '',
      Networks: Object.fromEntries(infos.map((i) => [i.networkName, i.settings])),
    };
  }

  /** docker's `Ports` for GET /containers/json. */
  listPorts(containerId: string): DockerListPort[] {
    return this.store.listEndpoints(containerId).flatMap((e) => dockerListPorts(e.exposedPorts, e.ports));
  }

  /** A setup that failed half-way: torn down as far as it got, its record gone. */
  private async undo(rec: EndpointRecord): Promise<void> {
    await this.bridges.teardown(rec).catch((te: Error) => log.warn('teardown after failed setup', { error: te.message }));
    this.store.deleteEndpoint(rec.containerId, rec.networkId);
  }
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
