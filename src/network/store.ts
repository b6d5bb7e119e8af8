/** Network and endpoint records on disk (one JSON file each, written atomically): the source of truth for IPAM. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, removeStaleTemps, writeJsonAtomic, fsyncDir } from '../common/atomic';
import type { NetavarkConfig } from './netavark';
import type { PortMapping } from './ports';

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
  aliases: string[];
  /** DNS names aardvark serves for this container (user networks only) */
  dnsNames: string[];
  ports: PortMapping[];
  exposedPorts: Record<string, unknown>;
  /** exactly what `netavark setup` received: teardown replays it */
  netavark?: NetavarkConfig;
  /** false until netavark setup returned; a record left false by a crash still gets torn down */
  setupDone: boolean;
}

export class NetworkStore {
  private readonly networksDir: string;
  private readonly endpointsDir: string;

  constructor(root: string) {
    this.networksDir = path.join(root, 'networks');
    this.endpointsDir = path.join(root, 'endpoints');
    for (const d of [this.networksDir, this.endpointsDir]) {
      fs.mkdirSync(d, { recursive: true, mode: 0o700 });
      removeStaleTemps(d);
    }
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
  deleteNetwork(id: string): void {
    this.remove(this.networksDir, id);
  }

  listEndpoints(): EndpointRecord[] {
    return this.readAll<EndpointRecord>(this.endpointsDir);
  }
  getEndpoint(containerId: string): EndpointRecord | undefined {
    return readJson<EndpointRecord>(this.file(this.endpointsDir, containerId));
  }
  saveEndpoint(e: EndpointRecord): void {
    writeJsonAtomic(this.file(this.endpointsDir, e.containerId), e);
  }
  deleteEndpoint(containerId: string): void {
    this.remove(this.endpointsDir, containerId);
  }

  private file(dir: string, id: string): string {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`invalid id for the network store: ${id}`);
    return path.join(dir, `${id}.json`);
  }
  private readAll<T>(dir: string): T[] {
    return fs.readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.json$/.test(f)).flatMap((f) => {
      const r = readJson<T>(path.join(dir, f));
      return r ? [r] : [];
    });
  }
  private remove(dir: string, id: string): void {
    fs.rmSync(this.file(dir, id), { force: true });
    fsyncDir(dir);
  }
}
