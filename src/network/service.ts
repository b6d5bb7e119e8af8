/**
 * Docker's network API over Berth's own store + IPAM, with netavark doing the kernel work.
 * Every state change runs under one lock: allocation must see every earlier allocation, and netavark calls on a
 * shared bridge are kept sequential.
 * Over ~400 lines for now: its split by job (CRUD, endpoints, the bridge keeper, views; issue #17) waits for the IPv6
 * work on this file to land.
 */
import * as fs from 'node:fs';
import { ApiError, badRequest, conflict, notFound } from '../common/errors';
import { newId, shortId } from '../common/ids';
import { parseTimestamp } from '../common/duration';
import { checkFilterKeys, labelMatches, type Filters } from '../common/filters';
import { log } from '../common/log';
import type { PublishSpec } from '../common/ports';
import {
  AddressPool, DEFAULT_BRIDGE_SUBNET, DEFAULT_POOLS, Family, allocateAddress, chooseGateway, formatCidr, formatIp,
  hostRouteSubnets, macForIp, newPool, parseAuxAddresses, parseIp, parseMac, parseRange, parseSubnet,
} from './ipam';
import { bridgeNames, deleteLink, ip, isolateBridgePorts, routesJson } from './iproute';
import { deleteRule, portRules } from './iptables';
import { Netavark, NetavarkOptions, netavarkConfig } from './netavark';
import { dockerNetwork, endpointInfo, portMap, type DockerNetwork, type DockerNetworkSettings, type EndpointInfo } from './views';
import { createNetns, listNetns, netnsName, netnsPath, removeNetns } from './netns';
import { assertHostPortsFree, checkPortConflicts, DockerListPort, dockerListPorts, hostPortFinder, resolvePortMappings } from './ports';
import { DnsOverrides, extraHostLines, parseResolvConf, renderHosts, renderResolvConf } from './dnsfiles';
import { EndpointRecord, NetworkRecord, NetworkStore, endpointAddresses, ipamPool } from './store';
import type { CreateNetworkBody } from './create-request';
import { BRIDGE_NAME, bridgeSettings } from './bridge-options';
import type { Trash } from '../store/trash';
import type { HostPortPublisher } from '../rootless/ports';

export interface NetworkServiceConfig {
  /** records: <root>/networks, <root>/endpoints */
  root: string;
  /** netavark --config (aardvark-dns state); best on a tmpfs such as /run/berth/netavark */
  runDir: string;
  defaultBridge?: string; // berth0
  defaultSubnet?: string; // 10.209.0.0/16
  pools?: AddressPool[];
  /** user networks get bridge `<prefix>-<id>` (15 chars max); reconcile removes unowned ones */
  bridgePrefix?: string; // berth
  netnsPrefix?: string; // berth-
  netavark?: Omit<NetavarkOptions, 'configDir'>;
  hostResolvConf?: string; // /etc/resolv.conf
  hostHosts?: string; // /etc/hosts
  /** where removed network records go first (the data root's) */
  trash?: Trash;
  /** A rootless daemon's host side of published ports (netavark's rules only reach its own network namespace). */
  hostPorts?: HostPortPublisher;
}

/** Something of this daemon's left in the kernel (see NetworkService.leftovers). */
export interface NetworkLeftover {
  kind: 'endpoint' | 'netns' | 'bridge' | 'veth' | 'iptables';
  name: string;
  detail: string;
  repair: () => Promise<void>;
}

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

const PREDEFINED = ['bridge', 'host', 'none'];
const NO_PORTS: PublishSpec = { bindings: [], exposed: [], publishAll: false };

export class NetworkService {
  private readonly store: NetworkStore;
  private readonly netavark: Netavark;
  private readonly defaultBridge: string;
  private readonly defaultSubnet: string;
  private readonly pools: AddressPool[];
  private readonly bridgePrefix: string;
  private readonly netnsPrefix: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly cfg: NetworkServiceConfig) {
    this.store = new NetworkStore(cfg.root, cfg.trash);
    this.netavark = new Netavark({ ...cfg.netavark, configDir: cfg.runDir });
    this.defaultBridge = cfg.defaultBridge ?? 'berth0';
    this.defaultSubnet = cfg.defaultSubnet ?? DEFAULT_BRIDGE_SUBNET;
    this.pools = cfg.pools ?? DEFAULT_POOLS;
    this.bridgePrefix = cfg.bridgePrefix ?? 'berth';
    this.netnsPrefix = cfg.netnsPrefix ?? 'berth-';
    parseSubnet(this.defaultSubnet);
  }

  /** Records for docker's three predefined networks (bridge on the default subnet, host, none). */
  ensureDefault(): Promise<void> {
    return this.locked(async () => {
      const existing = this.store.listNetworks();
      for (const name of PREDEFINED) {
        const old = existing.find((n) => n.name === name);
        if (name !== 'bridge' && old) continue;
        if (old && old.subnet === this.defaultSubnet && old.bridge === this.defaultBridge) continue;
        if (old && this.endpointsOn(old.id).length) {
          log.warn('default network settings changed but containers are attached; keeping the old ones', { subnet: old.subnet });
          continue;
        }
        const rec: NetworkRecord = {
          id: old?.id ?? newId(), name, driver: name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null',
          userSubnet: false, internal: false, labels: {}, options: {}, created: old?.created ?? new Date().toISOString(), predefined: true,
        };
        if (name === 'bridge') {
          const subnet = parseSubnet(this.defaultSubnet);
          Object.assign(rec, { subnet: formatCidr(subnet), gateway: formatIp(chooseGateway(subnet)), bridge: this.defaultBridge });
          rec.options = { 'com.docker.network.bridge.default_bridge': 'true', [BRIDGE_NAME]: this.defaultBridge };
        }
        this.store.saveNetwork(rec);
      }
    });
  }

  /** docker 24's checks and wording (daemon/network.go, libnetwork's controller, bridge driver and IPAM). */
  create(body: CreateNetworkBody): Promise<{ Id: string; Warning: string }> {
    return this.locked(async () => {
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
      const bridge = settings.bridgeName || `${this.bridgePrefix}-${id}`.slice(0, 15);
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
    });
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
    for (const e of this.endpointsOn(n.id)) {
      containers[e.containerId] = {
        Name: e.containerName, EndpointID: e.endpointId, MacAddress: e.mac ?? '',
        IPv4Address: e.ip ? `${e.ip}/${e.prefixLen}` : '', IPv6Address: e.ip6 ? `${e.ip6}/${e.prefixLen6}` : '',
      };
    }
    return dockerNetwork(n, containers);
  }

  remove(idOrName: string): Promise<void> {
    return this.locked(async () => {
      const n = this.find(idOrName);
      if (n.predefined) throw new ApiError(403, `${n.name} is a pre-defined network and cannot be removed`);
      if (this.endpointsOn(n.id).length) throw conflict(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
      await this.releaseBridge(n);
      this.store.deleteNetwork(n.id);
      await this.deleteOwnBridge(n.bridge); // after a crash netavark may not have removed it
    });
  }

  /** docker network prune: every unused user network. Filters: label, label!, until (timestamp or duration ago). */
  prune(f: Filters = {}): Promise<{ NetworksDeleted: string[] }> {
    checkFilterKeys(f, ['label', 'label!', 'until']);
    if ((f.until?.length ?? 0) > 1) throw badRequest('more than one until filter specified');
    const until = f.until?.[0] ? parseUntil(f.until[0]) : Infinity;
    return this.locked(async () => {
      const deleted: string[] = [];
      for (const n of this.store.listNetworks()) {
        if (n.predefined || this.endpointsOn(n.id).length || Date.parse(n.created) > until || !matchLabels(n.labels, f.label)) continue;
        if (f['label!']?.length && matchLabels(n.labels, f['label!'])) continue;
        await this.releaseBridge(n);
        this.store.deleteNetwork(n.id);
        await this.deleteOwnBridge(n.bridge);
        deleted.push(n.name);
      }
      return { NetworksDeleted: deleted };
    });
  }

  /** A fresh named netns for the container (lo up). Its path goes to attachContainer and to the OCI spec. */
  createNamespace(containerId: string): Promise<string> {
    return createNetns(netnsName(this.netnsPrefix, containerId));
  }

  /** Where createNamespace put the container's netns (it stays while the container runs, even with no endpoint). */
  namespacePath(containerId: string): string {
    return netnsPath(netnsName(this.netnsPrefix, containerId));
  }

  /** The network's record as docker names it (name, id or id prefix; "default" is bridge). */
  network(idOrName: string): { id: string; name: string; driver: string } {
    const n = this.find(idOrName === 'default' ? 'bridge' : idOrName);
    return { id: n.id, name: n.name, driver: n.driver };
  }

  /** Join one more network: the next free ethN in the container's netns, one netavark setup with only that network. */
  attachContainer(containerId: string, name: string, nsPath: string, o: AttachOptions): Promise<EndpointInfo> {
    return this.locked(async () => {
      const n = this.find(o.network === 'default' ? 'bridge' : o.network);
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
      const addresses = this.addresses(n, o.ip, o.ip6);
      const existingPorts = others.flatMap((e) => e.ports);
      const ports = await resolvePortMappings(o.ports ?? NO_PORTS, hostPortFinder(new Set(existingPorts.map((p) => `${p.protocol}/${p.hostPort}`))));
      checkPortConflicts(ports, existingPorts);
      // rootless: the daemon's namespace is not the host's; slirp4netns's listen on the host is the check
      if (!this.cfg.hostPorts) await assertHostPortsFree(ports);
      const dns = !n.predefined;
      Object.assign(rec, {
        ...addresses, mac: o.mac ? parseMac(o.mac) : macForIp(parseIp(addresses.ip)!), ports, aliases: o.aliases ?? [],
        dnsNames: dns ? unique([name, shortId(containerId), ...(o.aliases ?? [])]) : [], requestedIp: o.ip, requestedIp6: o.ip6,
      });
      rec.netavark = netavarkConfig(rec, n);
      this.store.saveEndpoint(rec); // before setup: a crash in between leaves a record that reconcile tears down
      try {
        const status = await this.netavark.setup(nsPath, rec.netavark);
        const iface = status[n.id]?.interfaces?.[rec.iface!];
        if (iface?.mac_address) rec.mac = iface.mac_address;
      } catch (e) {
        await this.teardown(rec).catch((te: Error) => log.warn('teardown after failed setup', { error: te.message }));
        this.store.deleteEndpoint(containerId, n.id);
        throw new ApiError(500, `failed to set up network ${n.name} for container ${name}: ${(e as Error).message}`);
      }
      if (this.cfg.hostPorts && ports.length) {
        try {
          rec.hostForwards = await this.cfg.hostPorts.publish(ports);
        } catch (e) {
          await this.teardown(rec).catch((te: Error) => log.warn('teardown after failed setup', { error: te.message }));
          this.store.deleteEndpoint(containerId, n.id);
          throw e;
        }
      }
      rec.setupDone = true;
      this.store.saveEndpoint(rec);
      await this.keepBridge(n);
      if (!bridgeSettings(n.options).icc) await isolateBridgePorts(n.bridge!);
      return endpointInfo(rec, n);
    });
  }

  /** Undo every attachContainer of the container (replaying the stored netavark JSON) and delete its netns. Idempotent. */
  detachContainer(containerId: string): Promise<void> {
    return this.locked(() => this.detachLocked(containerId));
  }

  /** Leave one network (netavark teardown of that network only); the netns and the other endpoints stay. */
  detachNetwork(containerId: string, network: string): Promise<EndpointInfo> {
    return this.locked(async () => {
      const n = this.find(network === 'default' ? 'bridge' : network);
      const e = this.store.getEndpoint(containerId, n.id);
      if (!e) throw new ApiError(500, `container ${containerId} is not connected to network ${n.name}`);
      await this.teardown(e);
      this.store.deleteEndpoint(containerId, n.id);
      return endpointInfo(e, n);
    });
  }

  /** docker's forced disconnect of a container that is gone: its endpoint on the network, found by container name or id. */
  forceEndpointDelete(container: string, network: string): Promise<{ containerId: string; networkId: string; networkName: string }> {
    return this.locked(async () => {
      const n = this.find(network === 'default' ? 'bridge' : network);
      const e = this.endpointsOn(n.id).find((x) => x.containerName === container || x.containerId === container);
      if (!e) throw notFound(`endpoint ${container} not found`);
      await this.teardown(e);
      this.store.deleteEndpoint(e.containerId, n.id);
      return { containerId: e.containerId, networkId: n.id, networkName: n.name };
    });
  }

  /**
   * The endpoints as docker shows them in the container's inspect, or undefined. The deprecated top-level address
   * fields are the default bridge's endpoint's, empty on other networks (docker's getDefaultNetworkSettings).
   */
  networkSettings(containerId: string): DockerNetworkSettings | undefined {
    const attached = this.attached(containerId);
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

  /** Content of the container's /etc/hosts (host network: the host's own file); one line per address, as docker. */
  hostsFile(containerId: string, hostname: string, extraHosts: string[] = []): string {
    const attached = this.attached(containerId);
    if (attached.some(({ n }) => n.driver === 'host')) return fs.readFileSync(this.cfg.hostHosts ?? '/etc/hosts', 'utf8') + extraHostLines(extraHosts).map((l) => `${l}\n`).join('');
    return renderHosts(attached.flatMap(({ e }) => endpointAddresses(e)), hostname, extraHosts);
  }

  /** Content of the container's /etc/resolv.conf: aardvark on the first user network's gateway when there is one. */
  resolvConf(containerId: string, overrides: DnsOverrides = {}): string {
    const file = this.cfg.hostResolvConf ?? '/etc/resolv.conf';
    const host = parseResolvConf(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
    const nets = this.attached(containerId).map(({ n }) => n);
    const user = nets.find((n) => n.driver === 'bridge' && !n.predefined);
    if (nets.some((n) => n.driver === 'host')) return renderResolvConf(host, { kind: 'host' }, overrides);
    if (user) return renderResolvConf(host, { kind: 'gateway', gateway: user.gateway! }, overrides);
    return renderResolvConf(host, { kind: 'host-copy' }, overrides);
  }

  /**
   * Start-up repair: tear down endpoints of containers that are gone, delete their namespaces, clean networks
   * whose last container vanished without teardown, and delete Berth-named bridges that no network owns.
   */
  reconcile(liveContainerIds: Iterable<string>): Promise<void> {
    const live = new Set(liveContainerIds);
    return this.locked(async () => {
      const gone = new Set(this.store.listEndpoints().map((e) => e.containerId).filter((id) => !live.has(id)));
      for (const id of gone) await this.detachLocked(id);
      const liveShort = new Set([...live].map((id) => netnsName(this.netnsPrefix, id)));
      for (const ns of await listNetns(this.netnsPrefix)) if (!liveShort.has(ns)) await removeNetns(ns);
      const networks = this.store.listNetworks();
      const bridges = await bridgeNames();
      for (const n of networks) {
        if (n.bridge && bridges.includes(n.bridge) && !this.endpointsOn(n.id).length) await this.releaseBridge(n);
      }
      const owned = new Set(networks.map((n) => n.bridge));
      for (const b of bridges) if (this.isBerthBridgeName(b) && !owned.has(b)) await deleteLink(b);
    });
  }

  /**
   * For `system check`: this daemon's network leftovers (its netns prefix, its bridges, its network ids, never
   * another daemon's): endpoints and netns of containers not running, Berth-named bridges no network owns, veths on
   * its bridges whose peer is in no live netns, and netavark port rules of its networks for containers not running.
   * Each comes with its removal; the first three are what reconcile removes.
   */
  leftovers(liveContainerIds: Iterable<string>): Promise<NetworkLeftover[]> {
    const live = new Set(liveContainerIds);
    return this.locked(async () => {
      const out: NetworkLeftover[] = [];
      const repair = () => this.reconcile(live);
      for (const e of this.store.listEndpoints()) {
        if (!live.has(e.containerId)) out.push({ kind: 'endpoint', name: `${shortId(e.containerId)} on ${shortId(e.networkId)}`, detail: 'endpoint of a container that is not running', repair });
      }
      const liveNs = new Set([...live].map((id) => netnsName(this.netnsPrefix, id)));
      for (const ns of await listNetns(this.netnsPrefix)) {
        if (!liveNs.has(ns)) out.push({ kind: 'netns', name: ns, detail: 'network namespace of a container that is not running', repair });
      }
      const networks = this.store.listNetworks();
      const owned = new Set(networks.map((n) => n.bridge).filter((b): b is string => !!b));
      const bridges = (await bridgeNames()).filter((b) => owned.has(b) || this.isBerthBridgeName(b));
      for (const b of bridges) if (!owned.has(b)) out.push({ kind: 'bridge', name: b, detail: 'bridge no network owns', repair });
      // A container's veth dies with its netns (reported above); one whose peer is in the host's namespace and is not
      // the bridge's keeper was made by an interrupted setup.
      const veths = JSON.parse((await ip(['-j', 'link', 'show', 'type', 'veth'])) || '[]') as { ifname: string; master?: string; link_netnsid?: number }[];
      for (const v of veths) {
        if (!v.master || !bridges.includes(v.master) || v.ifname === keeperName(v.master) || v.link_netnsid !== undefined) continue;
        out.push({ kind: 'veth', name: v.ifname, detail: `on bridge ${v.master}, its peer in no container`, repair: () => deleteLink(v.ifname) });
      }
      const ours = new Set(networks.map((n) => n.id));
      for (const rule of await portRules()) {
        if (ours.has(rule.network) && !live.has(rule.container)) {
          out.push({ kind: 'iptables', name: `${rule.tool} nat ${rule.chain}`, detail: `port rule of container ${shortId(rule.container)}, which is not running`, repair: () => deleteRule(rule) });
        }
      }
      return out;
    });
  }

  // ---- internals ----

  /** Bridges Berth names itself; a user-chosen com.docker.network.bridge.name may be a pre-existing host bridge. */
  private isBerthBridgeName(b: string): boolean {
    return b === this.defaultBridge || new RegExp(`^${escapeRe(this.bridgePrefix)}-[0-9a-f]+$`).test(b);
  }

  private async deleteOwnBridge(b: string | undefined): Promise<void> {
    if (b && this.isBerthBridgeName(b)) await deleteLink(b);
  }

  private async detachLocked(containerId: string): Promise<void> {
    for (const e of this.store.listEndpoints(containerId)) {
      await this.teardown(e);
      this.store.deleteEndpoint(containerId, e.networkId);
    }
    await removeNetns(netnsName(this.netnsPrefix, containerId));
  }

  /** The container's endpoints (interface order) with their networks. */
  private attached(containerId: string): { e: EndpointRecord; n: NetworkRecord }[] {
    return this.store.listEndpoints(containerId).flatMap((e) => {
      const n = this.store.getNetwork(e.networkId);
      return n ? [{ e, n }] : [];
    });
  }

  /**
   * netavark teardown with the setup JSON. If the netns is gone (crash, reboot of the netns), netavark refuses
   * to start, and with an empty stand-in netns it stops at the missing veth before the network-wide cleanup; so
   * then the per-container part is done against a stand-in and, if this was the network's last container, a
   * throwaway container is set up and torn down so that netavark removes the bridge, NAT rules and DNS itself.
   */
  private async teardown(e: EndpointRecord): Promise<void> {
    if (e.hostForwards?.length) await this.cfg.hostPorts?.unpublish(e.hostForwards);
    if (!e.netavark) return;
    if (fs.existsSync(e.netnsPath)) {
      try {
        await this.netavark.teardown(e.netnsPath, e.netavark);
        return;
      } catch (err) {
        // e.g. setup never completed or the veth is gone: finish the job the tolerant way below
        log.warn('netavark teardown failed, cleaning up with a stand-in namespace', { container: e.containerId, error: (err as Error).message });
      }
    }
    await this.withScratchNetns(e.containerId, (p) => this.netavark.teardown(p, e.netavark!).catch(() => undefined));
    const n = this.store.getNetwork(e.networkId);
    if (n && !this.endpointsOn(n.id).some((o) => o.containerId !== e.containerId)) await this.flushNetwork(n);
  }

  /**
   * netavark removes a bridge, its NAT rules and DNS with the bridge's last container and makes them again for the
   * next one: ~100 ms on each side of every `run --rm`. A spare interface on the bridge keeps it (and its rules) in
   * place while the network is in use, as docker0 stays; releaseBridge takes it away again.
   */
  private async keepBridge(n: NetworkRecord): Promise<void> {
    if (!n.bridge) return;
    const keeper = keeperName(n.bridge);
    if ((await ip(['-o', 'link', 'show', keeper]).catch(() => '')) !== '') return;
    // A veth pair with one end on the bridge (the kernel here has no dummy driver; veth is always there), both ends up:
    // the bridge keeps its carrier between containers. A bridge that regains a carrier runs duplicate address detection
    // on its IPv6 gateway again, and aardvark-dns, started by that netavark setup, cannot bind the address while it is
    // tentative and exits (netavark 1.4 waits for it only on a bridge it creates).
    await ip(['link', 'add', keeper, 'type', 'veth', 'peer', 'name', `${keeper}p`]);
    await ip(['link', 'set', keeper, 'master', n.bridge, 'up']);
    await ip(['link', 'set', `${keeper}p`, 'up']);
  }

  /** Let go of an idle network's bridge: netavark drops bridge, rules and DNS (flushNetwork), the keeper goes meanwhile. */
  private async releaseBridge(n: NetworkRecord): Promise<void> {
    if (!n.bridge) return;
    if ((await bridgeNames()).includes(n.bridge)) await this.flushNetwork(n);
    // also when the bridge is already gone (deleted by other hands): its keeper pair would outlive it
    else await deleteLink(keeperName(n.bridge));
  }

  /** Daemon shutdown with nothing running: release every bridge, so a stopped berthd leaves no trace in the kernel. */
  releaseIdle(): Promise<void> {
    return this.locked(async () => {
      for (const n of this.store.listNetworks()) {
        if (this.endpointsOn(n.id).length) continue;
        // one network that cannot be released does not keep the others' bridges
        await this.releaseBridge(n).catch((e: Error) => log.warn('releasing an idle network failed', { network: n.id, error: e.message }));
      }
    });
  }

  /** Make netavark drop a network's bridge, rules and DNS entry: one throwaway container in, the keeper out, the container out. */
  private async flushNetwork(n: NetworkRecord): Promise<void> {
    const probeId = newId();
    const rec: EndpointRecord = {
      containerId: probeId, containerName: `flush-${shortId(probeId)}`, networkId: n.id, endpointId: probeId, netnsPath: '',
      ...this.addresses(n), aliases: [], dnsNames: [], ports: [], exposedPorts: {}, setupDone: false,
    };
    const config = netavarkConfig(rec, n);
    await this.withScratchNetns(probeId, async (p) => {
      await this.netavark.setup(p, config);
      // the keeper goes between setup and teardown: the bridge keeps its carrier while aardvark-dns starts (see
      // keepBridge), and the probe is its last port at teardown, so that netavark removes it
      await deleteLink(keeperName(n.bridge!));
      await this.netavark.teardown(p, config);
    });
  }

  /** An endpoint's addresses on a bridge network (the requested ones, else free ones): IPv4, and IPv6 on an IPv6 network. */
  private addresses(n: NetworkRecord, ip?: string, ip6?: string): { ip: string } & Pick<EndpointRecord, 'prefixLen' | 'gateway' | 'ip6' | 'prefixLen6' | 'gateway6'> {
    const v4 = { ip: formatIp(this.allocate(n, 4, ip)), prefixLen: parseSubnet(n.subnet!).prefix, gateway: n.gateway };
    if (!n.ipv6 || !n.v6) return v4;
    return { ...v4, ip6: formatIp(this.allocate(n, 6, ip6), 6), prefixLen6: parseSubnet(n.v6.subnet).prefix, gateway6: n.v6.gateway };
  }

  /** A free address of the network's pool of `family` (or the requested one): not the gateway, an auxiliary address or a container's. */
  private allocate(n: NetworkRecord, family: Family, requested?: string): bigint {
    const p = ipamPool(n, family)!;
    const subnet = parseSubnet(p.subnet);
    const used = new Set([
      parseIp(p.gateway, family)!, ...parseAuxAddresses(p.auxAddresses ?? {}, subnet, n.name),
      ...this.endpointsOn(n.id).flatMap((e) => {
        const a = family === 4 ? e.ip : e.ip6;
        return a ? [parseIp(a, family)!] : [];
      }),
    ]);
    return allocateAddress(subnet, used, requested, p.ipRange ? parseRange(p.ipRange, subnet) : subnet);
  }

  private async withScratchNetns(id: string, fn: (p: string) => Promise<void>): Promise<void> {
    const name = `${this.netnsPrefix}x${id.slice(0, 11)}`;
    await removeNetns(name);
    const p = await createNetns(name);
    try {
      await fn(p);
    } finally {
      await removeNetns(name);
    }
  }

  /** Full id, exact name (unique: CheckDuplicate=false makes duplicates), then unique id prefix (docker's order). */
  private find(idOrName: string): NetworkRecord {
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

  private endpointsOn(networkId: string): EndpointRecord[] {
    return this.store.listEndpoints().filter((e) => e.networkId === networkId);
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

const unique = (xs: string[]): string[] => [...new Set(xs)];
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** label filters: all must match. */
const matchLabels = (labels: Record<string, string>, wanted?: string[]): boolean => (wanted ?? []).every((w) => labelMatches(labels, w));

function parseUntil(v: string): number {
  try {
    return parseTimestamp(v);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

/** The veth end that keeps a bridge alive (its peer adds `p`; interface names have at most 15 characters). */
const keeperName = (bridge: string): string => `${bridge.slice(0, 13)}k`;
