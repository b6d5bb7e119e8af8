/**
 * `network create`'s IPAM flags gathered into IPAM configs as the docker CLI does (its consolidateIpam): each
 * --ip-range, --gateway and --aux-address goes to the --subnet that contains it, whatever the flags' order, with the
 * docker CLI's wording when one fits no subnet or two fit the same one. The daemon validates the result again.
 */
import * as net from 'node:net';

export interface IpamConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IpamFlags {
  subnets: string[];
  ranges: string[];
  gateways: string[];
  /** --aux-address name=IP, in order (a later name wins, as docker's map flag). */
  aux: string[];
}

/** An address or CIDR as Go's net.ParseIP / net.ParseCIDR read it; undefined when it is neither. */
function parse(s: string, cidr: boolean): { ip: string; family: 'ipv4' | 'ipv6'; prefix: number } | undefined {
  const [ip, prefix, ...rest] = s.split('/');
  const v = net.isIP(ip);
  if (v === 0 || rest.length || cidr !== (prefix !== undefined)) return undefined;
  const bits = v === 4 ? 32 : 128;
  const p = prefix === undefined ? bits : Number(prefix);
  if (!/^\d+$/.test(prefix ?? '0') || p > bits) return undefined;
  return { ip, family: v === 4 ? 'ipv4' : 'ipv6', prefix: p };
}

/** Whether `data` (an address, or a CIDR whose address counts when `cidr`) lies in `subnet`. */
function subnetMatches(subnet: string, data: string, cidr: boolean): boolean {
  const s = parse(subnet, true);
  if (!s) throw new Error(`invalid subnet: invalid CIDR address: ${subnet}`);
  const d = parse(data, cidr);
  if (!d && cidr) throw new Error(`invalid CIDR address: ${data}`);
  if (!d || d.family !== s.family) return false;
  const block = new net.BlockList();
  block.addSubnet(s.ip, s.prefix, s.family);
  return block.check(d.ip, d.family);
}

export function consolidateIpam(f: IpamFlags): IpamConfig[] {
  if (f.subnets.length < f.ranges.length || f.subnets.length < f.gateways.length) {
    throw new Error('every ip-range or gateway must have a corresponding subnet');
  }
  const configs = new Map<string, IpamConfig>();
  for (const s of f.subnets) {
    for (const k of configs.keys()) {
      if (subnetMatches(s, k, true) || subnetMatches(k, s, true)) throw new Error('multiple overlapping subnet configuration is not supported');
    }
    configs.set(s, { Subnet: s });
  }
  const place = (value: string, what: string, set: (c: IpamConfig) => void): void => {
    let matched = false;
    for (const [s, c] of configs) {
      if (!subnetMatches(s, value, what === 'range' || value.includes('/'))) continue;
      set(c);
      matched = true;
    }
    if (!matched) throw new Error(`no matching subnet for ${what} ${value}`);
  };
  for (const r of f.ranges) {
    place(r, 'range', (c) => {
      if (c.IPRange) throw new Error(`cannot configure multiple ranges (${r}, ${c.IPRange}) on the same subnet (${c.Subnet})`);
      c.IPRange = r;
    });
  }
  for (const g of f.gateways) {
    place(g, 'gateway', (c) => {
      if (c.Gateway) throw new Error(`cannot configure multiple gateways (${g}, ${c.Gateway}) for the same subnet (${c.Subnet})`);
      c.Gateway = g;
    });
  }
  const aux = new Map(f.aux.map((kv) => [kv.split('=')[0], kv.includes('=') ? kv.slice(kv.indexOf('=') + 1) : '']));
  for (const [name, addr] of aux) place(addr, 'aux-address', (c) => (c.AuxiliaryAddresses = { ...c.AuxiliaryAddresses, [name]: addr }));
  return [...configs.values()];
}
