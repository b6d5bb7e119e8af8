/** Pure IPv4 address management: subnets, pools, gateways and container addresses (Berth owns IPAM, not netavark). */
import { ApiError, badRequest } from '../common/errors';

/** An IPv4 network: `base` is the network address as an unsigned 32-bit integer. */
export interface Cidr { base: number; prefix: number }

/** docker's `default-address-pools` shape: carve `base` into subnets of prefix length `size`. */
export interface AddressPool { base: string; size: number }

export const DEFAULT_BRIDGE_SUBNET = '10.209.0.0/16';
/** 10.210.0.0/16 … 10.223.0.0/16: clear of Docker's 172.17-31 and podman's 10.88, like docker's own pool list. */
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '10.210.0.0/15', size: 16 },
  { base: '10.212.0.0/14', size: 16 },
  { base: '10.216.0.0/13', size: 16 },
];

export function parseIp(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export const formatIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

const mask = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
const size = (c: Cidr): number => 2 ** (32 - c.prefix);
export const formatCidr = (c: Cidr): string => `${formatIp(c.base)}/${c.prefix}`;

/** Parse "a.b.c.d/n" leniently: host bits are masked off (used for routes read from the kernel). */
export function parseCidrLoose(s: string): Cidr | undefined {
  const [ip, p, extra] = s.split('/');
  const addr = parseIp(ip);
  const prefix = p === undefined ? 32 : /^\d{1,2}$/.test(p) ? Number(p) : NaN;
  if (addr === undefined || extra !== undefined || !(prefix >= 0 && prefix <= 32)) return undefined;
  return { base: (addr & mask(prefix)) >>> 0, prefix };
}

/** A user-given subnet (`--subnet`): must be a canonical IPv4 CIDR with room for a gateway and one container. */
export function parseSubnet(s: string): Cidr {
  const c = parseCidrLoose(s);
  if (!c || !s.includes('/')) throw badRequest(`invalid CIDR address: ${s}`);
  if (formatCidr(c) !== s) throw badRequest(`invalid subnet ${s}: it should be ${formatCidr(c)}`);
  if (c.prefix > 30) throw badRequest(`invalid subnet ${s}: too small, a bridge network needs at least a /30`);
  return c;
}

export const contains = (c: Cidr, ip: number): boolean => ((ip & mask(c.prefix)) >>> 0) === c.base;
export const overlaps = (a: Cidr, b: Cidr): boolean =>
  contains(a, b.base) || contains(b, a.base);

/** Subnets routed on the host, from `ip -j route` output (the default route is not a subnet). */
export function hostRouteSubnets(ipRouteJson: string): Cidr[] {
  const routes = JSON.parse(ipRouteJson || '[]') as { dst?: string }[];
  return routes.flatMap((r) => {
    const c = r.dst && r.dst !== 'default' ? parseCidrLoose(r.dst) : undefined;
    return c ? [c] : [];
  });
}

/** First subnet from the pools that overlaps nothing in `used` (other networks' subnets and host routes). */
export function nextSubnet(pools: AddressPool[], used: Cidr[]): Cidr {
  for (const pool of pools) {
    const p = parseCidrLoose(pool.base);
    if (!p || pool.size < p.prefix || pool.size > 30) throw new Error(`invalid address pool ${pool.base} size ${pool.size}`);
    const step = 2 ** (32 - pool.size);
    for (let base = p.base; base < p.base + size(p); base += step) {
      const cand = { base, prefix: pool.size };
      if (!used.some((u) => overlaps(u, cand))) return cand;
    }
  }
  throw badRequest('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
}

/** A user-given subnet must not overlap another Berth network (docker: 403 Forbidden). */
export function checkNoOverlap(subnet: Cidr, others: Cidr[]): void {
  if (others.some((o) => overlaps(o, subnet))) throw new ApiError(403, 'invalid pool request: Pool overlaps with other one on this address space');
}

/** Gateway: the given one (must sit inside the subnet and be a host address) or, as docker's IPAM, the first free address of the range. */
export function chooseGateway(subnet: Cidr, gateway?: string, range: Cidr = subnet, reserved: ReadonlySet<number> = new Set()): number {
  if (!gateway) return allocateAddress(subnet, reserved, undefined, range);
  const g = parseIp(gateway);
  if (g === undefined) throw badRequest(`invalid gateway address: ${gateway}`);
  if (!contains(subnet, g) || g === subnet.base || g === subnet.base + size(subnet) - 1) throw badRequest(`no matching subnet for gateway ${gateway}`);
  return g;
}

/**
 * A container address. `requested` (docker `--ip`) is checked against the subnet and `used` (it may lie outside the
 * ip-range, as in docker); otherwise the lowest free host address of `range` (docker `--ip-range`, default the whole
 * subnet) is taken. `used` holds the addresses already handed out and reserved (gateway, auxiliary addresses).
 */
export function allocateAddress(subnet: Cidr, used: ReadonlySet<number>, requested?: string, range: Cidr = subnet): number {
  const last = subnet.base + size(subnet) - 1; // broadcast
  if (requested) {
    const ip = parseIp(requested);
    if (ip === undefined) throw badRequest(`invalid IPv4 address: ${requested}`);
    if (!contains(subnet, ip) || ip === subnet.base || ip === last) throw badRequest(`no configured subnet or ip-range contain the IP address ${requested}`);
    if (used.has(ip)) throw new ApiError(403, 'Address already in use');
    return ip;
  }
  // The network and broadcast addresses of the subnet are never handed out, even at the edges of a range.
  for (let ip = range.base; ip < range.base + size(range); ip++) if (ip !== subnet.base && ip !== last && !used.has(ip)) return ip;
  throw new ApiError(403, `no available IPv4 addresses on this network's address pools: ${formatCidr(subnet)}`);
}

/** docker `--ip-range`: a CIDR inside the subnet that container addresses come from. */
export function parseRange(s: string, subnet: Cidr): Cidr {
  const c = parseCidrLoose(s);
  if (!c || !s.includes('/')) throw badRequest(`invalid ip-range ${s}: invalid CIDR address`);
  if (c.prefix < subnet.prefix || !contains(subnet, c.base)) throw badRequest(`invalid ip-range ${s}: it must be inside subnet ${formatCidr(subnet)}`);
  return c;
}

/** docker `--aux-address name=ip`: addresses inside the subnet that are never given to a container. */
export function parseAuxAddresses(aux: Record<string, string>, subnet: Cidr, network: string): number[] {
  return Object.entries(aux).map(([k, v]) => {
    const ip = parseIp(v);
    if (ip === undefined) throw badRequest(`non parsable secondary ip address (${k}:${v}) passed for network ${network}`);
    if (!contains(subnet, ip)) throw new ApiError(403, `auxiliary address: (${k}:${v}) must belong to the master pool: ${formatCidr(subnet)}`);
    return ip;
  });
}

/** docker's MAC for an IPv4 address: 02:42 followed by the four address bytes. */
export function macForIp(ip: number): string {
  return ['02', '42', ...[24, 16, 8, 0].map((s) => ((ip >>> s) & 255).toString(16).padStart(2, '0'))].join(':');
}

/** A user-given MAC (docker `--mac-address`), normalised to lower case. */
export function parseMac(s: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s)) throw badRequest(`invalid MAC address: ${s}`);
  return s.toLowerCase();
}
