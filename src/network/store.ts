/** Network and endpoint records on disk (one JSON file each, written atomically): the source of truth for IPAM. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, removeStaleTemps, writeJsonAtomic, fsyncDir } from '../common/atomic';
import type { Family, PoolRecord } from './ipam';
import type { NetavarkConfig } from './netavark';
import type { PortMapping } from './ports';
import { Trash } from '../store/trash';

export type NetworkDriver = 'bridge' | 'host' | 'null';

export interface NetworkRecord {
  id: string; // 64 hex
  name: string;
  driver: NetworkDriver;
  /** bridge networks only */
  subnet?: string;
  gateway?: string;
  /** the subnet came from the user (--subnet): only then is --ip allowed, as in docker */
  userSubnet: boolean;
  /** docker --ip-range: container addresses come from here (absent: the whole subnet) */
  ipRange?: string;
  /** docker --aux-address: reserved, never given to a container */
  auxAddresses?: Record<string, string>;
  ipamOptions?: Record<string, string>;
  /** EnableIPv6: containers get an address from `v6` too */
  ipv6?: boolean;
  /** the IPv6 IPAM config; docker keeps and shows one given without EnableIPv6, but then hands out no IPv6 address */
  v6?: { subnet: string; gateway: string; ipRange?: string; auxAddresses?: Record<string, string> };
  /** as given at create ("" or absent: the driver's, local) */
  scope?: string;
  attachable?: boolean;
  bridge?: string;
  internal: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  created: string; // RFC 3339
  /** bridge, host, none: created by Berth, cannot be removed */
  predefined: boolean;
}

export interface EndpointRecord {
  containerId: string;
  containerName: string;
  networkId: string;
  endpointId: string;
  netnsPath: string;
  /** absent on host/none networks */
  ip?: string;
  prefixLen?: number;
  gateway?: string;
  mac?: string;
  /** docker --ip, reported back as IPAMConfig */
  requestedIp?: string;
  /** on an IPv6 network: the container's IPv6 address, prefix length and gateway; docker --ip6 */
  ip6?: string;
  prefixLen6?: number;
  gateway6?: string;
  requestedIp6?: string;
  aliases: string[];
  /** DNS names aardvark serves for this container (user networks only) */
  dnsNames: string[];
  ports: PortMapping[];
  exposedPorts: Record<string, unknown>;
  /** exactly what `netavark setup` received: teardown replays it */
  netavark?: NetavarkConfig;
  /** false until netavark setup returned; a record left false by a crash still gets torn down */
  setupDone: boolean;
  /** the container's interface for this network: eth0, eth1, ... (absent in records of one-network days: eth0) */
  iface?: string;
  /** ids of the host-side forwards of `ports` (a rootless daemon's slirp4netns) */
  hostForwards?: number[];
}

/** An endpoint with its network. */
export interface Attachment { e: EndpointRecord; n: NetworkRecord }

/** One family's IPAM of a network (IPv4 lives in the record's flat fields, as before IPv6). */
export function ipamPool(n: NetworkRecord, family: Family): PoolRecord | undefined {
  if (family === 6) return n.v6;
  return n.subnet ? { subnet: n.subnet, gateway: n.gateway!, ipRange: n.ipRange, auxAddresses: n.auxAddresses } : undefined;
}

/** The endpoint's addresses, IPv4 first (docker's /etc/hosts order). */
export const endpointAddresses = (e: Pick<EndpointRecord, 'ip' | 'ip6'>): string[] => [e.ip, e.ip6].filter((a): a is string => !!a);

const ID_FILE = /^[0-9a-f]{64}\.json$/;
const ENDPOINT_FILE = /^[0-9a-f]{64}-[0-9a-f]{64}\.json$/;
const ifaceIndex = (e: EndpointRecord): number => Number((e.iface ?? 'eth0').slice(3));

export class NetworkStore {
  private readonly networksDir: string;
  private readonly endpointsDir: string;

  /** `trash`: where removals go first (the data root's, shared with the other stores; its own under `root` otherwise). */
  constructor(root: string, private readonly trash = new Trash(path.join(root, 'trash'))) {
    this.networksDir = path.join(root, 'networks');
    this.endpointsDir = path.join(root, 'endpoints');
    for (const d of [this.networksDir, this.endpointsDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      removeStaleTemps(d);
    }
    this.migrateEndpoints();
  }

  listNetworks(): NetworkRecord[] {
    return this.readAll<NetworkRecord>(this.networksDir).sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
  }
  getNetwork(id: string): NetworkRecord | undefined {
    return readJson<NetworkRecord>(this.file(this.networksDir, id));
  }
  saveNetwork(n: NetworkRecord): void {
    writeJsonAtomic(this.file(this.networksDir, n.id), n);
  }
  /** One rename into the trash: a crash leaves the network whole or gone (its bridge, then unowned, goes at reconcile). */
  deleteNetwork(id: string): void {
    this.trash.discard(this.file(this.networksDir, id), 'network', id);
  }

  /** Every endpoint, or one container's, in interface order (eth0 first). */
  listEndpoints(containerId?: string): EndpointRecord[] {
    const all = this.readAll<EndpointRecord>(this.endpointsDir, ENDPOINT_FILE);
    return (containerId ? all.filter((e) => e.containerId === containerId) : all).sort((a, b) => ifaceIndex(a) - ifaceIndex(b));
  }
  /** The network's endpoints. */
  endpointsOn(networkId: string): EndpointRecord[] {
    return this.listEndpoints().filter((e) => e.networkId === networkId);
  }
  /** The container's endpoints (interface order) with their networks. */
  attached(containerId: string): Attachment[] {
    return this.listEndpoints(containerId).flatMap((e) => {
      const n = this.getNetwork(e.networkId);
      return n ? [{ e, n }] : [];
    });
  }
  getEndpoint(containerId: string, networkId: string): EndpointRecord | undefined {
    return readJson<EndpointRecord>(this.endpointFile(containerId, networkId));
  }
  saveEndpoint(e: EndpointRecord): void {
    writeJsonAtomic(this.endpointFile(e.containerId, e.networkId), e);
  }
  deleteEndpoint(containerId: string, networkId: string): void {
    fs.rmSync(this.endpointFile(containerId, networkId), { force: true });
    fsyncDir(this.endpointsDir);
  }

  /** Records are keyed by (container, network): <containerId>-<networkId>.json. */
  private endpointFile(containerId: string, networkId: string): string {
    return this.file(this.endpointsDir, containerId).replace(/\.json$/, `-${path.basename(this.file(this.endpointsDir, networkId))}`);
  }

  /** Records of the one-endpoint-per-container layout (<containerId>.json) move to the per-network name. */
  private migrateEndpoints(): void {
    for (const f of fs.readdirSync(this.endpointsDir).filter((x) => ID_FILE.test(x))) {
      const e = readJson<EndpointRecord>(path.join(this.endpointsDir, f));
      if (e) fs.renameSync(path.join(this.endpointsDir, f), this.endpointFile(e.containerId, e.networkId));
      else fs.rmSync(path.join(this.endpointsDir, f), { force: true });
    }
  }

  private file(dir: string, id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`invalid id for the network store: ${id}`);
    return path.join(dir, `${id}.json`);
  }
  private readAll<T>(dir: string, pattern = ID_FILE): T[] {
    return fs.readdirSync(dir).filter((f) => pattern.test(f)).flatMap((f) => {
      const r = readJson<T>(path.join(dir, f));
      return r ? [r] : [];
    });
  }
}
