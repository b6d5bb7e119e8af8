/** volume create/ls/inspect/rm/prune, as docker's. */
import type { Command, Ctx } from '../cli';
import { renderList } from '../format/formatter';
import { inspect } from './inspect';
import { forceFlag, prune, pruneFilter } from './system';
import { filterFlag, filtersQuery, forEachName, formatFlag, keyValues } from './util';

interface VolumeJson {
  Name: string;
  Driver: string;
  Scope: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
}

const LS_FORMAT = 'table {{.Driver}}\t{{.Name}}';
const LS_HEADER = { Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS' };

export const volumeCreate: Command = {
  use: 'create [OPTIONS] [VOLUME]',
  short: 'Create a volume',
  flags: [
    { name: 'driver', short: 'd', kind: 'string', usage: 'Specify volume driver name', default: 'local' },
    { name: 'label', kind: 'list', usage: 'Set metadata for a volume' },
    { name: 'opt', short: 'o', kind: 'list', varname: 'map', usage: 'Set driver specific options' },
    { name: 'name', kind: 'string', usage: 'Specify volume name', hidden: true },
  ],
  args: [0, 1],
  async run(ctx, o) {
    const v = o.values;
    const name = o.args[0] ?? (v.name as string);
    if (o.args[0] && v.name) throw ctx.withHelp(new Error('conflicting options: either specify --name or provide positional arg, not both'), 1);
    const res = await (await ctx.client()).request<VolumeJson>('POST', '/volumes/create', {
      body: { Name: name, Driver: v.driver, DriverOpts: keyValues(v.opt as string[]), Labels: keyValues(v.label as string[]) },
    });
    process.stdout.write(res.Name + '\n');
  },
};

export const volumeLs: Command = {
  use: 'ls [OPTIONS]',
  short: 'List volumes',
  flags: [
    filterFlag,
    formatFlag,
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display volume names' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const v = o.values;
    const res = await (await ctx.client()).request<{ Volumes: VolumeJson[] | null }>('GET', '/volumes', { query: { filters: filtersQuery(v.filter as string[]) } });
    const rows = (res.Volumes ?? [])
      .sort((a, b) => a.Name.localeCompare(b.Name))
      .map((x) => ({ ...x, Labels: Object.entries(x.Labels ?? {}).map(([k, val]) => `${k}=${val}`).join(',') }));
    const format = v.quiet ? '{{.Name}}' : (v.format as string) || LS_FORMAT;
    process.stdout.write(renderList(format, rows, LS_HEADER));
  },
};

export const volumeInspect: Command = {
  use: 'inspect [OPTIONS] VOLUME [VOLUME...]',
  short: 'Display detailed information on one or more volumes',
  flags: inspect.flags.filter((f) => f.name === 'format'),
  args: [1, Infinity],
  run: (ctx, o) => inspect.run(ctx, { ...o, values: { ...o.values, type: 'volume' } }),
};

export const volumeRm: Command = {
  use: 'rm [OPTIONS] VOLUME [VOLUME...]',
  short: 'Remove one or more volumes',
  flags: [{ name: 'force', short: 'f', kind: 'bool', usage: 'Force the removal of one or more volumes' }],
  args: [1, Infinity],
  async run(ctx, o) {
    const client = await ctx.client();
    const force = o.values.force ? 1 : undefined;
    await forEachName(o.args, (n) => client.request('DELETE', `/volumes/${encodeURIComponent(n)}`, { query: { force } }), (n) => process.stdout.write(n + '\n'));
  },
};

async function pruneVolumes(ctx: Ctx, filters: string[], all: boolean): Promise<{ text: string; reclaimed: number }> {
  const r = await (await ctx.client()).request<{ VolumesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/volumes/prune', {
    query: { filters: filtersQuery(all ? [...filters, 'all=true'] : filters) },
  });
  const names = r?.VolumesDeleted ?? [];
  return { text: names.length ? `Deleted Volumes:\n${names.map((n) => n + '\n').join('')}` : '', reclaimed: r?.SpaceReclaimed ?? 0 };
}

export const volumePrune: Command = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused local volumes',
  flags: [{ name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused volumes, not just anonymous ones' }, pruneFilter, forceFlag],
  args: [0, 0],
  run: (ctx, o) => {
    const all = o.values.all as boolean;
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    return prune({ force: o.values.force as boolean }, warning, [() => pruneVolumes(ctx, o.values.filter as string[], all)]);
  },
};
