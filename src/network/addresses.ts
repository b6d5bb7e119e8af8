/** Endpoint IPAM: a container's addresses on a bridge network, given the addresses its other endpoints hold. */
import { Family, allocateAddress, formatIp, parseAuxAddresses, parseIp, parseRange, parseSubnet } from './ipam';
import { EndpointRecord, NetworkRecord, ipamPool } from './store';

export type EndpointAddresses = { ip: string } & Pick<EndpointRecord, 'prefixLen' | 'gateway' | 'ip6' | 'prefixLen6' | 'gateway6'>;

/** The requested addresses, else free ones: IPv4, and IPv6 on an IPv6 network. `onNetwork`: the network's endpoints. */
export function endpointAddressesOn(n: NetworkRecord, onNetwork: EndpointRecord[], ip?: string, ip6?: string): EndpointAddresses {
  const v4 = { ip: formatIp(allocate(n, onNetwork, 4, ip)), prefixLen: parseSubnet(n.subnet!).prefix, gateway: n.gateway };
  if (!n.ipv6 || !n.v6) return v4;
  return { ...v4, ip6: formatIp(allocate(n, onNetwork, 6, ip6), 6), prefixLen6: parseSubnet(n.v6.subnet).prefix, gateway6: n.v6.gateway };
}

/** A free address of the network's pool of `family` (or the requested one): not the gateway, an auxiliary address or a container's. */
function allocate(n: NetworkRecord, onNetwork: EndpointRecord[], family: Family, requested?: string): bigint {
  const p = ipamPool(n, family)!;
  const subnet = parseSubnet(p.subnet);
  const used = new Set([
    parseIp(p.gateway, family)!, ...parseAuxAddresses(p.auxAddresses ?? {}, subnet, n.name),
    ...onNetwork.flatMap((e) => {
      const a = family === 4 ? e.ip : e.ip6;
      return a ? [parseIp(a, family)!] : [];
    }),
  ]);
  return allocateAddress(subnet, used, requested, p.ipRange ? parseRange(p.ipRange, subnet) : subnet);
}
