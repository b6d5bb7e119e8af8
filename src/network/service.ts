/**
 * Docker's network API over Berth's own store + IPAM, with netavark doing the kernel work. The jobs live beside it:
 * network CRUD and filters (networks.ts), endpoints (endpoints.ts, their addresses addresses.ts), the bridge keeper
 * and teardown recovery (bridges.ts), /etc/hosts and resolv.conf (container-files.ts), Docker views (views.ts).
 * Every state change runs under one lock, here: allocation must see every earlier allocation, and netavark calls on
 * a shared bridge are kept sequential.
 */
import type { Filters } from '../common/filters';
import type { Trash } from '../store/trash';
import { Bridges, type NetworkLeftover } from './bridges';
import { hostsFile, resolvConf } from './container-files';
import type { CreateNetworkBody } from './create-request';
import type { DnsOverrides, HostEntry } from './dnsfiles';
import { Endpoints, type AttachOptions } from './endpoints';
import { AddressPool, DEFAULT_BRIDGE_SUBNET, DEFAULT_POOLS, parseSubnet } from './ipam';
import { Netavark, NetavarkOptions } from './netavark';
import { createNetns, netnsName, netnsPath } from './netns';
import { Networks } from './networks';
import type { DockerListPort, HostPortPublisher } from './ports';
import { NetworkStore } from './store';
import type { DockerNetwork, DockerNetworkSettings, EndpointInfo } from './views';

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

export class NetworkService {
  private readonly store: NetworkStore;
  private readonly netnsPrefix: string;
  private readonly bridges: Bridges;
  private readonly networks: Networks;
  private readonly endpoints: Endpoints;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly cfg: NetworkServiceConfig) {
    this.store = new NetworkStore(cfg.root, cfg.trash);
    const netavark = new Netavark({ ...cfg.netavark, configDir: cfg.runDir });
    const names = { defaultBridge: cfg.defaultBridge ?? 'berth0', bridgePrefix: cfg.bridgePrefix ?? 'berth', netnsPrefix: cfg.netnsPrefix ?? 'berth-' };
    this.netnsPrefix = names.netnsPrefix;
    const defaultSubnet = cfg.defaultSubnet ?? DEFAULT_BRIDGE_SUBNET;
    parseSubnet(defaultSubnet);
    this.bridges = new Bridges(this.store, netavark, names, cfg.hostPorts);
    this.networks = new Networks(this.store, this.bridges, names, defaultSubnet, cfg.pools ?? DEFAULT_POOLS);
    this.endpoints = new Endpoints(this.store, netavark, this.bridges, cfg.hostPorts);
  }

  /** Records for docker's three predefined networks (bridge on the default subnet, host, none). */
  ensureDefault(): Promise<void> {
    return this.locked(() => this.networks.ensureDefault());
  }

  create(body: CreateNetworkBody): Promise<{ Id: string; Warning: string }> {
    return this.locked(() => this.networks.create(body));
  }

  list(f: Filters = {}): DockerNetwork[] {
    return this.networks.list(f);
  }

  inspect(idOrName: string): DockerNetwork {
    return this.networks.inspect(idOrName);
  }

  remove(idOrName: string): Promise<void> {
    return this.locked(() => this.networks.remove(idOrName));
  }

  /** docker network prune: every unused user network. Filters: label, label!, until (timestamp or duration ago). */
  prune(f: Filters = {}): Promise<{ NetworksDeleted: string[] }> {
    const wanted = this.networks.pruneFilter(f);
    return this.locked(() => this.networks.prune(wanted));
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
    const n = this.networks.resolve(idOrName);
    return { id: n.id, name: n.name, driver: n.driver };
  }

  /** Join one more network: the next free ethN in the container's netns, one netavark setup with only that network. */
  attachContainer(containerId: string, name: string, nsPath: string, o: AttachOptions): Promise<EndpointInfo> {
    return this.locked(() => this.endpoints.attach(this.networks.resolve(o.network), containerId, name, nsPath, o));
  }

  /** Undo every attachContainer of the container (replaying the stored netavark JSON) and delete its netns. Idempotent. */
  detachContainer(containerId: string): Promise<void> {
    return this.locked(() => this.bridges.detachAll(containerId));
  }

  /** Leave one network (netavark teardown of that network only); the netns and the other endpoints stay. */
  detachNetwork(containerId: string, network: string): Promise<EndpointInfo> {
    return this.locked(() => this.endpoints.detachNetwork(this.networks.resolve(network), containerId));
  }

  /** docker's forced disconnect of a container that is gone: its endpoint on the network, found by container name or id. */
  forceEndpointDelete(container: string, network: string): Promise<{ containerId: string; networkId: string; networkName: string }> {
    return this.locked(() => this.endpoints.forceDelete(this.networks.resolve(network), container));
  }

  networkSettings(containerId: string): DockerNetworkSettings | undefined {
    return this.endpoints.networkSettings(containerId);
  }

  listPorts(containerId: string): DockerListPort[] {
    return this.endpoints.listPorts(containerId);
  }

  hostsFile(containerId: string, hostname: string, extraHosts: HostEntry[] = []): string {
    // docker's --add-host name:host-gateway: the default bridge's gateway (dockerd's default --host-gateway-ip)
    const gateway = this.store.listNetworks().find((n) => n.name === 'bridge')?.gateway;
    const hosts = extraHosts.map((h) => (h.ip === 'host-gateway' && gateway ? { ...h, ip: gateway } : h));
    return hostsFile(this.store.attached(containerId), this.cfg.hostHosts ?? '/etc/hosts', hostname, hosts);
  }

  resolvConf(containerId: string, overrides: DnsOverrides = {}): string {
    return resolvConf(this.store.attached(containerId), this.cfg.hostResolvConf ?? '/etc/resolv.conf', overrides);
  }

  /** Start-up repair (Bridges.reconcile). */
  reconcile(liveContainerIds: Iterable<string>): Promise<void> {
    const live = new Set(liveContainerIds);
    return this.locked(() => this.bridges.reconcile(live));
  }

  /** For `system check` (Bridges.leftovers); the first three kinds are repaired by reconcile. */
  leftovers(liveContainerIds: Iterable<string>): Promise<NetworkLeftover[]> {
    const live = new Set(liveContainerIds);
    return this.locked(() => this.bridges.leftovers(live, () => this.reconcile(live)));
  }

  /** Daemon shutdown with nothing running: release every bridge, so a stopped berthd leaves no trace in the kernel. */
  releaseIdle(): Promise<void> {
    return this.locked(() => this.bridges.releaseIdle());
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }
}
