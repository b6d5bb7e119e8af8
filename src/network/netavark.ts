/** netavark driver: one exec with one JSON on stdin per setup/teardown (bridge, veth, NAT, ports, aardvark DNS). */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { isRootless, ROOTLESS_MTU } from '../common/rootless';
import { bridgeSettings } from './bridge-options';
import { toNetavarkPorts, type NetavarkPortMapping } from './ports';
import { endpointAddresses, type EndpointRecord, type NetworkRecord } from './store';

export const NETAVARK_BINARY = '/usr/lib/podman/netavark';
export const AARDVARK_BINARY = '/usr/lib/podman/aardvark-dns';

/** netavark's description of a network (its `network_info` entry): an IPv4 subnet, and an IPv6 one when enabled. */
export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: { subnet: string; gateway: string }[];
  ipv6_enabled: boolean;
  internal: boolean;
  dns_enabled: boolean;
  ipam_options: { driver: 'host-local' };
  options?: Record<string, string>;
}

/** The container's side of one network: netavark needs static IPs because Berth does the IPAM. */
export interface NetavarkAttachment { interface_name: string; static_ips: string[]; static_mac?: string; aliases: string[] }

/** The exact JSON given to `netavark setup`; teardown must receive the same document. */
export interface NetavarkConfig {
  container_id: string;
  container_name: string;
  networks: Record<string, NetavarkAttachment>;
  network_info: Record<string, NetavarkNetwork>;
  port_mappings?: NetavarkPortMapping[];
}

export interface NetavarkInterface { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] }
/** `netavark setup` result, per network key. */
export type NetavarkStatus = Record<string, { dns_search_domains?: string[]; dns_server_ips?: string[]; interfaces: Record<string, NetavarkInterface> }>;

export interface NetavarkOptions {
  binary?: string;
  aardvarkBinary?: string;
  /** netavark --config: aardvark's per-network files and pid live here; must exist and survive daemon restarts. */
  configDir: string;
}

export class Netavark {
  private readonly binary: string;
  private readonly aardvark: string;

  constructor(private readonly opts: NetavarkOptions) {
    this.binary = opts.binary ?? NETAVARK_BINARY;
    this.aardvark = opts.aardvarkBinary ?? AARDVARK_BINARY;
  }

  async setup(netnsPath: string, config: NetavarkConfig): Promise<NetavarkStatus> {
    return JSON.parse(await this.run('setup', netnsPath, config)) as NetavarkStatus;
  }

  async teardown(netnsPath: string, config: NetavarkConfig): Promise<void> {
    await this.run('teardown', netnsPath, config);
  }

  private run(command: 'setup' | 'teardown', netnsPath: string, config: NetavarkConfig): Promise<string> {
    // netavark does not create its config dir and fails half-way (rules already in place) when it is missing.
    fs.mkdirSync(this.opts.configDir, { recursive: true, mode: 0o700 });
    const args = ['--config', this.opts.configDir, '--rootless', 'false', '--aardvark-binary', this.aardvark, command, netnsPath];
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (e) => reject(new Error(`netavark ${command}: ${e.message}`)));
      child.on('close', (code) => {
        const stdout = Buffer.concat(out).toString().trim();
        if (code === 0) return resolve(stdout);
        reject(new Error(`netavark ${command} failed: ${errorText(stdout) || Buffer.concat(err).toString().trim() || `exit ${code}`}`));
      });
      child.stdin.end(JSON.stringify(config));
    });
  }
}

/** netavark reports failures as {"error": "..."} on stdout. */
function errorText(stdout: string): string | undefined {
  try {
    return (JSON.parse(stdout) as { error?: string }).error;
  } catch {
    return stdout || undefined;
  }
}

/** The setup/teardown JSON of one endpoint on its network. */
export function netavarkConfig(e: EndpointRecord, n: NetworkRecord): NetavarkConfig {
  // Keyed by network id, not name: netavark derives iptables chain names and aardvark files from this key, and
  // ids are unique across Berth instances (two daemons may both have a network called "bridge").
  const mtu = bridgeSettings(n.options).mtu ?? (isRootless() ? ROOTLESS_MTU : undefined);
  const v6 = n.ipv6 && n.v6 ? [{ subnet: n.v6.subnet, gateway: n.v6.gateway }] : [];
  const config: NetavarkConfig = {
    container_id: e.containerId,
    container_name: e.containerName,
    networks: { [n.id]: { interface_name: e.iface ?? 'eth0', static_ips: endpointAddresses(e), ...(e.mac ? { static_mac: e.mac } : {}), aliases: e.dnsNames.filter((a) => a !== e.containerName) } },
    network_info: {
      [n.id]: {
        name: n.id, id: n.id, driver: 'bridge', network_interface: n.bridge!, subnets: [{ subnet: n.subnet!, gateway: n.gateway! }, ...v6],
        ipv6_enabled: v6.length > 0, internal: n.internal, dns_enabled: !n.predefined, ipam_options: { driver: 'host-local' },
        // Docker isolates bridge networks from each other (netavark's NETAVARK_ISOLATION chains).
        options: { isolate: 'true', ...(mtu ? { mtu: String(mtu) } : {}) },
      },
    },
  };
  if (e.ports.length) config.port_mappings = toNetavarkPorts(e.ports);
  return config;
}
