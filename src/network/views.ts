/**
 * Pure: Berth's network and endpoint records as Docker's API shows them (network inspect/list, a container's
 * NetworkSettings, its Ports map).
 */
import { dockerPortMap, type PortMapping } from './ports';
import type { EndpointRecord, NetworkRecord } from './store';

/** docker's NetworkSettings.Networks[name] entry. */
export interface DockerEndpointSettings {
  IPAMConfig: { IPv4Address: string } | null;
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
  gateway?: string;
  mac?: string;
  ports: PortMapping[];
  settings: DockerEndpointSettings;
}

/** The container-level slice of docker's inspect NetworkSettings. */
export interface DockerNetworkSettings {
  SandboxKey: string;
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  MacAddress: string;
  Networks: Record<string, DockerEndpointSettings>;
}

export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: false;
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
    networkName: n.name, ip: e.ip, gateway: e.gateway, mac: e.mac, ports: e.ports,
    settings: {
      IPAMConfig: e.requestedIp ? { IPv4Address: e.requestedIp } : null, Links: null, Aliases: e.aliases.length ? e.aliases : null,
      MacAddress: e.mac ?? '', DriverOpts: null, NetworkID: n.id, EndpointID: e.endpointId, Gateway: e.gateway ?? '',
      IPAddress: e.ip ?? '', IPPrefixLen: e.prefixLen ?? 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
      DNSNames: e.dnsNames.length ? e.dnsNames : null,
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
    Name: n.name, Id: n.id, Created: n.created, Scope: n.scope || 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: {
      Driver: 'default', Options: n.predefined ? null : n.ipamOptions ?? {},
      Config: n.subnet ? [{ Subnet: n.subnet, ...(n.ipRange ? { IPRange: n.ipRange } : {}), Gateway: n.gateway!, ...(n.auxAddresses ? { AuxiliaryAddresses: n.auxAddresses } : {}) }] : [],
    },
    Internal: n.internal, Attachable: !!n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: n.options, Labels: n.labels,
  };
}
