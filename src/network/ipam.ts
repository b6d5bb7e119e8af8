/**
 * Pure address management for IPv4 and IPv6: subnets, pools, gateways and container addresses (Berth owns IPAM, not
 * netavark). Addresses are bigints; a subnet carries its family, and an address is read and written in its subnet's.
 */
import { isIPv6 } from 'node:net';
import { ApiError, badRequest, notFound } from '../common/errors';
import type { IpamConfigBody } from './create-request';

export type Family = 4 | 6;

/** A network: `base` is the network address. */
export interface Cidr { base: bigint; prefix: number; family: Family }

/** docker's `default-address-pools` shape: carve `base` into subnets of prefix length `size`. */
export interface AddressPool { base: string; size: number }

export const DEFAULT_BRIDGE_SUBNET = '10.209.0.0/16';
/** 10.210.0.0/16 … 10.223.0.0/16: clear of Docker's 172.17-31 and podman's 10.88, like docker's own pool list (IPv4 only, as Docker 24's). */
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '10.210.0.0/15', size: 16 },
  { base: '10.212.0.0/14', size: 16 },
  { base: '10.216.0.0/13', size: 16 },
];

const width = (f: Family): number => (f === 4 ? 32 : 128);

function parseIpv4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

/** Any textual IPv6 form (an embedded IPv4 tail included), as Go's net.ParseIP; zone ids are not addresses. */
function parseIpv6(s: string): bigint | undefined {
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = parseIpv4(v4[1]);
    if (n === undefined) return undefined;
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const groups = (x: string | undefined) => (x ? x.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return all.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** An address of `family` (IPv4 strictly dotted-quad), undefined when it is not one. */
export function parseIp(s: string, family: Family = 4): bigint | undefined {
  return family === 4 ? parseIpv4(s) : parseIpv6(s);
}

/** Dotted quad, or RFC 5952 text (the longest run of two or more zero groups as "::"), as Go prints addresses. */
export function formatIp(n: bigint, family: Family = 4): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => (n >> s) & 255n).join('.');
  const g = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => Number((n >> s) & 0xffffn));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best.at < 0 ? hex(g) : `${hex(g.slice(0, best.at))}::${hex(g.slice(best.at + best.len))}`;
}

const mask = (prefix: number, f: Family): bigint => ((1n << BigInt(prefix)) - 1n) << BigInt(width(f) - prefix);
const size = (c: Cidr): bigint => 1n << BigInt(width(c.family) - c.prefix);
const last = (c: Cidr): bigint => c.base + size(c) - 1n;
export const formatCidr = (c: Cidr): string => `${formatIp(c.base, c.family)}/${c.prefix}`;

/** Parse "addr/n" (either family) leniently: host bits are masked off (used for routes read from the kernel). */
export function parseCidrLoose(s: string): Cidr | undefined {
  const [ip, p, extra] = s.split('/');
  const family: Family = ip.includes(':') ? 6 : 4;
  const addr = parseIp(ip, family);
  const prefix = p === undefined ? width(family) : /^\d{1,3}$/.test(p) ? Number(p) : NaN;
  if (addr === undefined || extra !== undefined || !(prefix >= 0 && prefix <= width(family))) return undefined;
  return { base: addr & mask(prefix, family), prefix, family };
}

/**
 * A user-given subnet (`--subnet`): a CIDR of either family without host bits with room for a gateway and one container
 * (IPv4: a /30, whose last address is the broadcast; IPv6 has none).
 */
export function parseSubnet(s: string): Cidr {
  const c = parseCidrLoose(s);
  if (!c || !s.includes('/')) throw badRequest(`invalid CIDR address: ${s}`);
  // host bits set (not a spelling: IPv6 may be written with leading zeros or upper case, as Go's netip reads it)
  if (parseIp(s.split('/')[0], c.family) !== c.base) throw badRequest(`invalid subnet ${s}: it should be ${formatCidr(c)}`);
  if (c.prefix > width(c.family) - 2) throw badRequest(`invalid subnet ${s}: too small, a bridge network needs at least a /${width(c.family) - 2}`);
  return c;
}

export const contains = (c: Cidr, ip: bigint): boolean => (ip & mask(c.prefix, c.family)) === c.base;
export const overlaps = (a: Cidr, b: Cidr): boolean =>
  a.family === b.family && (contains(a, b.base) || contains(b, a.base));

/** Subnets routed on the host, from `ip -j route` output (the default route is not a subnet). */
export function hostRouteSubnets(ipRouteJson: string): Cidr[] {
  const routes = JSON.parse(ipRouteJson || '[]') as { dst?: string }[];
  return routes.flatMap((r) => {
    const c = r.dst && r.dst !== 'default' ? parseCidrLoose(r.dst) : undefined;
    return c ? [c] : [];
  });
}

/**
 * First subnet of `family` from the pools that overlaps nothing in `used` (other networks' subnets and host routes).
 * As Docker 24, whose default pools are IPv4 only, an IPv6 network needs a subnet of its own (404, libnetwork's wording).
 */
export function nextSubnet(pools: AddressPool[], used: Cidr[], family: Family = 4): Cidr {
  for (const pool of pools) {
    const p = parseCidrLoose(pool.base);
    if (!p || pool.size < p.prefix || pool.size > width(p.family) - 2) throw new Error(`invalid address pool ${pool.base} size ${pool.size}`);
    if (p.family !== family) continue;
    const step = 1n << BigInt(width(family) - pool.size);
    for (let base = p.base; base <= last(p); base += step) {
      const cand: Cidr = { base, prefix: pool.size, family };
      if (!used.some((u) => overlaps(u, cand))) return cand;
    }
  }
  throw notFound(`could not find an available, non-overlapping IPv${family} address pool among the defaults to assign to the network`);
}

/** A user-given subnet must not overlap another Berth network (docker: 403 Forbidden). */
export function checkNoOverlap(subnet: Cidr, others: Cidr[]): void {
  if (others.some((o) => overlaps(o, subnet))) throw new ApiError(403, 'invalid pool request: Pool overlaps with other one on this address space');
}

/** Gateway: the given one (must sit inside the subnet and be a host address) or, as docker's IPAM, the first free address of the range. */
export function chooseGateway(subnet: Cidr, gateway?: string, range: Cidr = subnet, reserved: ReadonlySet<bigint> = new Set()): bigint {
  if (!gateway) return allocateAddress(subnet, reserved, undefined, range);
  const g = parseIp(gateway, subnet.family);
  if (g === undefined) throw badRequest(`invalid gateway address: ${gateway}`);
  if (!contains(subnet, g) || !isHost(subnet, g)) throw badRequest(`no matching subnet for gateway ${gateway}`);
  return g;
}

/** Docker's IPAM never hands out a subnet's network address, nor an IPv4 subnet's broadcast address. */
const isHost = (subnet: Cidr, ip: bigint): boolean => ip !== subnet.base && (subnet.family === 6 || ip !== last(subnet));

/**
 * A container address. `requested` (docker `--ip`, `--ip6`) is checked against the subnet and `used` (it may lie
 * outside the ip-range, as in docker); otherwise the lowest free host address of `range` (docker `--ip-range`, default
 * the whole subnet) is taken. `used` holds the addresses already handed out and reserved (gateway, auxiliary addresses).
 */
export function allocateAddress(subnet: Cidr, used: ReadonlySet<bigint>, requested?: string, range: Cidr = subnet): bigint {
  const v = `IPv${subnet.family}`;
  if (requested) {
    const ip = parseIp(requested, subnet.family);
    if (ip === undefined) throw badRequest(`invalid ${v} address: ${requested}`);
    if (!contains(subnet, ip) || !isHost(subnet, ip)) throw badRequest(`no configured subnet or ip-range contain the IP address ${requested}`);
    if (used.has(ip)) throw new ApiError(403, 'Address already in use');
    return ip;
  }
  // Never the subnet's edges, even at the edges of a range; `used` is small, so an IPv6 range is not walked far.
  for (let ip = range.base; ip <= last(range); ip++) if (isHost(subnet, ip) && !used.has(ip)) return ip;
  throw new ApiError(403, `no available ${v} addresses on this network's address pools: ${formatCidr(subnet)}`);
}

/** docker `--ip-range`: a CIDR inside the subnet that container addresses come from. */
export function parseRange(s: string, subnet: Cidr): Cidr {
  const c = parseCidrLoose(s);
  if (!c || !s.includes('/')) throw badRequest(`invalid ip-range ${s}: invalid CIDR address`);
  if (c.family !== subnet.family || c.prefix < subnet.prefix || !contains(subnet, c.base)) throw badRequest(`invalid ip-range ${s}: it must be inside subnet ${formatCidr(subnet)}`);
  return c;
}

/** docker `--aux-address name=ip`: addresses inside the subnet that are never given to a container. */
export function parseAuxAddresses(aux: Record<string, string>, subnet: Cidr, network: string): bigint[] {
  return Object.entries(aux).map(([k, v]) => {
    const ip = parseIp(v, subnet.family);
    if (ip === undefined) throw badRequest(`non parsable secondary ip address (${k}:${v}) passed for network ${network}`);
    if (!contains(subnet, ip)) throw new ApiError(403, `auxiliary address: (${k}:${v}) must belong to the master pool: ${formatCidr(subnet)}`);
    return ip;
  });
}

/** One family's IPAM of a network as its record keeps it. */
export interface PoolRecord { subnet: string; gateway: string; ipRange?: string; auxAddresses?: Record<string, string> }

/**
 * One family's pool from the create body's IPAM config, with docker's checks: the given subnet (not overlapping
 * `taken`) or the first free one of `pools`, the range inside it, auxiliary addresses, then the gateway.
 */
export function newPool(cfg: IpamConfigBody, network: string, taken: Cidr[], pools: AddressPool[], family: Family): PoolRecord {
  const aux = cfg.AuxiliaryAddresses ?? {};
  if ((cfg.Gateway || cfg.IPRange || Object.keys(aux).length) && !cfg.Subnet) {
    throw badRequest('every ip-range, gateway or auxiliary address must have a corresponding subnet');
  }
  const subnet = cfg.Subnet ? parseSubnet(cfg.Subnet) : nextSubnet(pools, taken, family);
  if (cfg.Subnet) checkNoOverlap(subnet, taken);
  const range = cfg.IPRange ? parseRange(cfg.IPRange, subnet) : undefined;
  const gateway = chooseGateway(subnet, cfg.Gateway, range, new Set(parseAuxAddresses(aux, subnet, network)));
  return {
    subnet: formatCidr(subnet), gateway: formatIp(gateway, subnet.family),
    ...(range ? { ipRange: formatCidr(range) } : {}), ...(Object.keys(aux).length ? { auxAddresses: aux } : {}),
  };
}

/** docker's MAC for an IPv4 address: 02:42 followed by the four address bytes. */
export function macForIp(ip: bigint): string {
  return ['02', '42', ...[24n, 16n, 8n, 0n].map((s) => ((ip >> s) & 255n).toString(16).padStart(2, '0'))].join(':');
}

/** A user-given MAC (docker `--mac-address`), normalised to lower case. */
export function parseMac(s: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) throw badRequest(`invalid MAC address: ${s}`);
  return s.toLowerCase();
}
