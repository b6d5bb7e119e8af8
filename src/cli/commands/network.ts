/** network create/ls/inspect/rm/prune/connect/disconnect, and `port`. */
import type { Command } from '../cli';
import { renderInspect, renderList } from '../format/formatter';
import { truncateId } from '../../common/units';
import { filterFlag, filtersQuery, forEachName, formatFlag, keyValues } from './util';
import { forceFlag, prune, pruneFilter, pruneNetworks } from './system';
import { consolidateIpam } from './network-ipam';
import { ipamConfig } from './container-opts';

interface NetworkJson {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Internal: boolean;
  Created: string;
  Labels: Record<string, string> | null;
  IPAM: { Config: { Subnet?: string; Gateway?: string }[] | null };
}

const LS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
const LS_HEADER = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', CreatedAt: 'CREATED', Internal: 'INTERNAL', Labels: 'LABELS' };

export const networkCreate: Command = {
  use: 'create [OPTIONS] NETWORK',
  short: 'Create a network',
  flags: [
    { name: 'driver', short: 'd', kind: 'string', usage: 'Driver to manage the Network', default: 'bridge' },
    { name: 'subnet', kind: 'list', usage: 'Subnet in CIDR format that represents a network segment' },
    { name: 'gateway', kind: 'list', usage: 'IPv4 or IPv6 Gateway for the master subnet' },
    { name: 'ip-range', kind: 'list', usage: 'Allocate container ip from a sub-range' },
    { name: 'internal', kind: 'bool', usage: 'Restrict external access to the network' },
    { name: 'label', kind: 'list', usage: 'Set metadata on a network' },
    { name: 'opt', short: 'o', kind: 'list', usage: 'Set driver specific options' },
    { name: 'attachable', kind: 'bool', usage: 'Enable manual container attachment' },
    { name: 'ipv6', kind: 'bool', usage: 'Enable or disable IPv6 networking' },
    { name: 'aux-address', kind: 'list', usage: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
    { name: 'ipam-driver', kind: 'string', usage: 'IP Address Management Driver', default: 'default' },
    { name: 'ipam-opt', kind: 'list', usage: 'Set IPAM driver specific options' },
    { name: 'scope', kind: 'string', usage: "Control the network's scope" },
    { name: 'config-from', kind: 'string', usage: 'The network from which to copy the configuration' },
    { name: 'config-only', kind: 'bool', usage: 'Create a configuration only network' },
    { name: 'ingress', kind: 'bool', usage: 'Create swarm routing-mesh network' },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const v = o.values;
    const config = consolidateIpam({ subnets: v.subnet as string[], ranges: v['ip-range'] as string[], gateways: v.gateway as string[], aux: v['aux-address'] as string[] });
    const res = await (await ctx.client()).request<{ Id: string }>('POST', '/networks/create', {
      body: {
        Name: o.args[0], Driver: v.driver, Scope: v.scope || undefined, Internal: v.internal, Attachable: v.attachable,
        Ingress: v.ingress, ConfigOnly: v['config-only'], ConfigFrom: v['config-from'] ? { Network: v['config-from'] } : undefined,
        EnableIPv6: v.ipv6 || undefined, Labels: keyValues(v.label as string[]), Options: keyValues(v.opt as string[]), CheckDuplicate: true,
        IPAM: { Driver: v['ipam-driver'], Options: keyValues(v['ipam-opt'] as string[]), Config: config },
      },
    });
    process.stdout.write(res.Id + '\n');
  },
};

export const networkLs: Command = {
  use: 'ls [OPTIONS]',
  short: 'List networks',
  flags: [
    filterFlag,
    formatFlag,
    { name: 'no-trunc', kind: 'bool', usage: 'Do not truncate the output' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display network IDs' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const v = o.values;
    const list = await (await ctx.client()).request<NetworkJson[]>('GET', '/networks', { query: { filters: filtersQuery(v.filter as string[]) } });
    const trunc = !v['no-trunc'];
    const rows = (list ?? [])
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((n) => ({
        ID: trunc ? truncateId(n.Id) : n.Id, Name: n.Name, Driver: n.Driver, Scope: n.Scope, CreatedAt: n.Created,
        Internal: n.Internal, Labels: Object.entries(n.Labels ?? {}).map(([k, val]) => `${k}=${val}`).join(','),
      }));
    const format = v.quiet ? '{{.ID}}' : (v.format as string) || LS_FORMAT;
    process.stdout.write(renderList(format, rows, LS_HEADER));
  },
};

export const networkInspect: Command = {
  use: 'inspect [OPTIONS] NETWORK [NETWORK...]',
  short: 'Display detailed information on one or more networks',
  flags: [{ name: 'format', short: 'f', kind: 'string', usage: 'Format output using a custom template' }],
  args: [1, Infinity],
  async run(ctx, o) {
    const client = await ctx.client();
    const all = [];
    for (const n of o.args) all.push(await client.request('GET', `/networks/${encodeURIComponent(n)}`));
    const format = o.values.format as string;
    process.stdout.write(renderInspect(format, all));
  },
};

export const networkRm: Command = {
  use: 'rm NETWORK [NETWORK...]',
  short: 'Remove one or more networks',
  flags: [{ name: 'force', short: 'f', kind: 'bool', usage: 'Do not error if the network does not exist' }],
  args: [1, Infinity],
  async run(ctx, o) {
    const client = await ctx.client();
    await forEachName(o.args, (n) => client.request('DELETE', `/networks/${encodeURIComponent(n)}`), (n) => process.stdout.write(n + '\n'));
  },
};

export const networkPrune: Command = {
  use: 'prune [OPTIONS]',
  short: 'Remove all unused networks',
  flags: [pruneFilter, forceFlag],
  args: [0, 0],
  run: (ctx, o) => prune({ force: o.values.force as boolean }, 'WARNING! This will remove all custom networks not used by at least one container.',
    [() => pruneNetworks(ctx, o.values.filter as string[])]),
};

const connectCmd = (action: 'connect' | 'disconnect', short: string): Command => ({
  use: `${action} [OPTIONS] NETWORK CONTAINER`,
  short,
  flags: action === 'connect'
    ? [
      { name: 'alias', kind: 'list', usage: 'Add network-scoped alias for the container' },
      { name: 'ip', kind: 'string', usage: 'IPv4 address (e.g., 172.30.100.104)' },
      { name: 'ip6', kind: 'string', usage: 'IPv6 address (e.g., 2001:db8::33)' },
      { name: 'link', kind: 'list', usage: 'Add link to another container' },
    ]
    : [{ name: 'force', short: 'f', kind: 'bool', usage: 'Force the container to disconnect from a network' }],
  args: [2, 2],
  async run(ctx, o) {
    const v = o.values;
    const links = v.link as string[] | undefined;
    await (await ctx.client()).request('POST', `/networks/${encodeURIComponent(o.args[0])}/${action}`, {
      body: action === 'connect'
        ? { Container: o.args[1], EndpointConfig: { Aliases: v.alias, Links: links?.length ? links : undefined, IPAMConfig: ipamConfig(v.ip as string, v.ip6 as string) ?? undefined } }
        : { Container: o.args[1], Force: v.force },
    });
  },
});
export const networkConnect = connectCmd('connect', 'Connect a container to a network');
export const networkDisconnect = connectCmd('disconnect', 'Disconnect a container from a network');

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`, from inspect's NetworkSettings.Ports, as docker prints it. */
export const port: Command = {
  use: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  short: 'List port mappings or a specific mapping for the container',
  flags: [],
  args: [1, 2],
  async run(ctx, o) {
    const c = await (await ctx.client()).request<{ NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> } }>(
      'GET', `/containers/${encodeURIComponent(o.args[0])}/json`);
    const want = o.args[1] && !o.args[1].includes('/') ? `${o.args[1]}/tcp` : o.args[1];
    const ports = c.NetworkSettings.Ports ?? {};
    let out = '';
    for (const [key, bindings] of Object.entries(ports).sort()) {
      if (want && key !== want) continue;
      for (const b of bindings ?? []) {
        const host = b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp || '0.0.0.0';
        out += want ? `${host}:${b.HostPort}\n` : `${key} -> ${host}:${b.HostPort}\n`;
      }
    }
    if (want && !out) throw new Error(`Error: No public port '${want}' published for ${o.args[0]}`);
    process.stdout.write(out);
  },
};
