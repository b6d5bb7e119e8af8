/**
 * Pure: Berth's network and endpoint records as Docker's API shows them (network inspect/list, a container's
 * NetworkSettings, its Ports map).
 */
import { dockerPortMap, type PortMapping } from './ports';
import { ipamPool, type EndpointRecord, type NetworkRecord } from './store';

/** docker's NetworkSettings.Networks[name] entry. */
export interface DockerEndpointSettings {
  IPAMConfig: { IPv4Address?: string; IPv6Address?: string } | null;
  Links: null;
  Aliases: string[] | null;
  MacAddress: string;
  DriverOpts: null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  DNSNames: string[] | null;
}

/** One endpoint of a container: what its network setup returns and inspect shows. */
export interface EndpointInfo {
  networkName: string;
  ip?: string;
  ip6?: string;
  gateway?: string;
  mac?: string;
  ports: PortMapping[];
  settings: DockerEndpointSettings;
}

/** The container-level slice of docker's inspect NetworkSettings. */
export interface DockerNetworkSettings {
  SandboxKey: string;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  EndpointID: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, DockerEndpointSettings>;
}

export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: { Driver: 'default'; Options: Record<string, string> | null; Config: DockerIpamConfig[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

export interface DockerIpamConfig { Subnet: string; IPRange?: string; Gateway: string; AuxiliaryAddresses?: Record<string, string> }

export function endpointInfo(e: EndpointRecord, n: NetworkRecord): EndpointInfo {
  return {
    networkName: n.name, ip: e.ip, ip6: e.ip6, gateway: e.gateway, mac: e.mac, ports: e.ports,
    settings: {
      IPAMConfig: e.requestedIp || e.requestedIp6 ? { ...(e.requestedIp ? { IPv4Address: e.requestedIp } : {}), ...(e.requestedIp6 ? { IPv6Address: e.requestedIp6 } : {}) } : null,
      Links: null, Aliases: e.aliases.length ? e.aliases : null,
      MacAddress: e.mac ?? '', DriverOpts: null, NetworkID: n.id, EndpointID: e.endpointId, Gateway: e.gateway ?? '',
      IPAddress: e.ip ?? '', IPPrefixLen: e.prefixLen ?? 0, IPv6Gateway: e.gateway6 ?? '', GlobalIPv6Address: e.ip6 ?? '',
      GlobalIPv6PrefixLen: e.prefixLen6 ?? 0, DNSNames: e.dnsNames.length ? e.dnsNames : null,
    },
  };
}

/** docker's NetworkSettings.Ports over all endpoints (only the one made at start publishes). */
export function portMap(endpoints: EndpointRecord[]): DockerNetworkSettings['Ports'] {
  const withPorts = endpoints.find((e) => e.ports.length) ?? endpoints[0];
  return dockerPortMap(withPorts.exposedPorts, withPorts.ports);
}

/** docker's network inspect/list entry. */
export function dockerNetwork(n: NetworkRecord, containers: DockerNetwork['Containers']): DockerNetwork {
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: n.scope || 'local', Driver: n.driver, EnableIPv6: !!n.ipv6,
    IPAM: {
      Driver: 'default', Options: n.predefined ? null : n.ipamOptions ?? {},
      // IPv4's config first, then IPv6's (docker's buildIpamResources)
      Config: ([4, 6] as const).flatMap((f) => {
        const p = ipamPool(n, f);
        return p ? [{ Subnet: p.subnet, ...(p.ipRange ? { IPRange: p.ipRange } : {}), Gateway: p.gateway, ...(p.auxAddresses ? { AuxiliaryAddresses: p.auxAddresses } : {}) }] : [];
      }),
    },
    Internal: n.internal, Attachable: !!n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: n.options, Labels: n.labels,
  };
}
