/** version, info, events and the prune commands. */
import { CLIENT_API_VERSION } from '../../client/engine';
import { readLines } from '../../client/stream';
import type { EventMessage } from '../../client/types';
import { berthVersion, StatusError, type Command, type Ctx } from '../cli';
import type { FlagSpec } from '../flags';
import { renderOne } from '../format/formatter';
import { tabwrite } from '../format/tabwriter';
import { Template } from '../format/template';
import { bytesSize, humanSize, rfc3339NanoFixed } from '../../common/units';
import { sinceParam } from './timeparam';
import { confirm, filterFlag, filtersQuery } from './util';

const formatFlag = (usage = 'Format output using a custom template'): FlagSpec => ({ name: 'format', short: 'f', kind: 'string', usage });

const GOARCH: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** docker's version template, with the client block describing this CLI. */
const VERSION_TEMPLATE = `Client:
 Version:\t{{.Client.Version}}
 API version:\t{{.Client.APIVersion}}{{if ne .Client.APIVersion .Client.DefaultAPIVersion}} (downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 {{.Client.Runtime}} version:\t{{.Client.RuntimeVersion}}
 OS/Arch:\t{{.Client.Os}}/{{.Client.Arch}}
 Context:\t{{.Client.Context}}
{{- if .Server}}{{with .Server}}

Server:{{if .Platform}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
 {{- range $c := .Components}}
 {{$c.Name}}:
  Version:\t{{$c.Version}}
  {{- range $k, $v := $c.Details}}
  {{$k}}:\t{{$v}}
  {{- end}}
 {{- end}}
{{- end}}{{end}}
`;

declare const Deno: { version: { deno: string } } | undefined;

/** The JavaScript runtime this CLI runs under (bin/berth prefers Deno): docker shows its Go version there. */
function clientRuntime(): { Runtime: string; RuntimeVersion: string } {
  if (typeof Deno !== 'undefined') return { Runtime: 'Deno', RuntimeVersion: Deno.version.deno };
  return { Runtime: 'Node', RuntimeVersion: process.version };
}

export const version: Command = {
  use: 'version [OPTIONS]',
  short: 'Show the Berth version information',
  flags: [formatFlag()],
  args: [0, 0],
  async run(ctx, o) {
    const data: { Client: Record<string, unknown>; Server: unknown } = {
      Client: {
        Version: berthVersion(), APIVersion: CLIENT_API_VERSION, DefaultAPIVersion: CLIENT_API_VERSION,
        ...clientRuntime(), Os: process.platform, Arch: GOARCH[process.arch] ?? process.arch, Context: ctx.contextName(),
      },
      Server: null,
    };
    let failure: unknown = null;
    try {
      const client = await ctx.client();
      data.Server = await client.request('GET', '/version');
      data.Client.APIVersion = client.apiVersion;
    } catch (e) {
      failure = e;
    }
    const format = o.values.format as string;
    if (format) process.stdout.write(renderOne(format, data));
    else process.stdout.write(tabwrite(Template.parse(VERSION_TEMPLATE).execute(data), { minwidth: 20, padding: 1 }));
    if (failure) throw failure;
  },
};

type Info = Record<string, unknown>;

function infoText(i: Info, clientVer: string, context: string): string {
  const lines: string[] = ['Client:', ` Version:    ${clientVer}`, ` Context:    ${context}`, ' Debug Mode: false', '', 'Server:'];
  const add = (label: string, v: unknown): void => {
    if (v !== undefined && v !== null && v !== '') lines.push(` ${label}: ${v}`);
  };
  add('Containers', i.Containers);
  lines.push(`  Running: ${i.ContainersRunning ?? 0}`, `  Paused: ${i.ContainersPaused ?? 0}`, `  Stopped: ${i.ContainersStopped ?? 0}`);
  add('Images', i.Images);
  add('Server Version', i.ServerVersion);
  add('Storage Driver', i.Driver);
  for (const [k, v] of (i.DriverStatus as [string, string][] | null) ?? []) lines.push(`  ${k}: ${v}`);
  add('Logging Driver', i.LoggingDriver);
  add('Cgroup Driver', i.CgroupDriver);
  add('Cgroup Version', i.CgroupVersion);
  const runtimes = Object.keys((i.Runtimes as Record<string, unknown> | null) ?? {});
  if (runtimes.length) add('Runtimes', runtimes.sort().join(' '));
  add('Default Runtime', i.DefaultRuntime);
  add('Init Binary', i.InitBinary);
  add('Kernel Version', i.KernelVersion);
  add('Operating System', i.OperatingSystem);
  add('OSType', i.OSType);
  add('Architecture', i.Architecture);
  add('CPUs', i.NCPU);
  if (typeof i.MemTotal === 'number') add('Total Memory', bytesSize(i.MemTotal));
  add('Name', i.Name);
  add('ID', i.ID);
  add('Docker Root Dir', i.DockerRootDir);
  add('Debug Mode', i.Debug ?? false);
  add('Experimental', i.ExperimentalBuild ?? false);
  const insecure = ((i.RegistryConfig as { InsecureRegistryCIDRs?: string[] } | null)?.InsecureRegistryCIDRs) ?? [];
  if (insecure.length) lines.push(' Insecure Registries:', ...insecure.map((c) => `  ${c}`));
  add('Live Restore Enabled', i.LiveRestoreEnabled ?? false);
  for (const w of (i.Warnings as string[] | null) ?? []) lines.push(w);
  return lines.join('\n') + '\n';
}

export const info: Command = {
  use: 'info [OPTIONS]',
  short: 'Display system-wide information',
  flags: [formatFlag()],
  args: [0, 0],
  async run(ctx, o) {
    const i = await (await ctx.client()).request<Info>('GET', '/info');
    const format = o.values.format as string;
    process.stdout.write(format ? renderOne(format, { ...i, ClientInfo: { Version: berthVersion(), Context: ctx.contextName(), Debug: false } }) : infoText(i, berthVersion(), ctx.contextName()));
  },
};

/** docker's prettyPrintEvent: "<time> <type> <action> <id> (k=v, ...)". */
export function eventLine(e: EventMessage, timeNano: bigint | null): string {
  let s = '';
  if (timeNano !== null && timeNano !== 0n) s += rfc3339NanoFixed(timeNano) + ' ';
  else if (e.time) s += rfc3339NanoFixed(BigInt(e.time) * 1000000000n) + ' ';
  s += `${e.Type ?? ''} ${e.Action ?? ''} ${e.Actor?.ID ?? ''}`;
  const attrs = e.Actor?.Attributes ?? {};
  const keys = Object.keys(attrs).sort();
  if (keys.length) s += ` (${keys.map((k) => `${k}=${attrs[k]}`).join(', ')})`;
  return s + '\n';
}

export const events: Command = {
  use: 'events [OPTIONS]',
  short: 'Get real time events from the server',
  flags: [
    filterFlag,
    formatFlag('Format output using a custom template:\n' +
      "'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template."),
    { name: 'since', kind: 'string', usage: 'Show all events created since timestamp' },
    { name: 'until', kind: 'string', usage: 'Stream events until this timestamp' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const v = o.values;
    const now = Date.now();
    let since: string | undefined;
    let until: string | undefined;
    try {
      since = v.since ? sinceParam(v.since as string, now) : undefined;
      until = v.until ? sinceParam(v.until as string, now) : undefined;
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    const res = await (await ctx.client()).stream('GET', '/events', { query: { since, until, filters: filtersQuery(v.filter as string[]) } });
    const format = v.format as string;
    const tmpl = format && format !== 'json' ? Template.parse(format) : null;
    for await (const line of readLines(res)) {
      const e = JSON.parse(line) as EventMessage;
      if (format === 'json') process.stdout.write(JSON.stringify(e) + '\n');
      else if (tmpl) process.stdout.write(tmpl.execute(e) + '\n');
      else {
        const nano = /"timeNano":(\d+)/.exec(line); // read from the text: int64 nanoseconds do not survive a JS number
        process.stdout.write(eventLine(e, nano ? BigInt(nano[1]) : null));
      }
    }
  },
};

export interface PruneOutcome { text: string; reclaimed: number }

async function pruneContainers(ctx: Ctx, filters: string[]): Promise<PruneOutcome> {
  const r = await (await ctx.client()).request<{ ContainersDeleted?: string[] | null; SpaceReclaimed?: number }>(
    'POST', '/containers/prune', { query: { filters: filtersQuery(filters) } });
  const ids = r?.ContainersDeleted ?? [];
  return { text: ids.length ? `Deleted Containers:\n${ids.map((i) => i + '\n').join('')}` : '', reclaimed: r?.SpaceReclaimed ?? 0 };
}

async function pruneImages(ctx: Ctx, filters: string[], all: boolean): Promise<PruneOutcome> {
  const r = await (await ctx.client()).request<{ ImagesDeleted?: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed?: number }>(
    'POST', '/images/prune', { query: { filters: filtersQuery([...filters, `dangling=${!all}`]) } });
  const items = r?.ImagesDeleted ?? [];
  const body = items.map((it) => (it.Untagged ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`)).join('');
  return { text: items.length ? `Deleted Images:\n${body}` : '', reclaimed: r?.SpaceReclaimed ?? 0 };
}

export async function pruneNetworks(ctx: Ctx, filters: string[]): Promise<PruneOutcome> {
  const r = await (await ctx.client()).request<{ NetworksDeleted?: string[] | null }>('POST', '/networks/prune', { query: { filters: filtersQuery(filters) } });
  const names = r?.NetworksDeleted ?? [];
  return { text: names.length ? `Deleted Networks:\n${names.map((n) => n + '\n').join('')}` : '', reclaimed: 0 };
}

/** The build cache (cache mounts included): `builder prune` and a step of `system prune`. */
export async function pruneBuildCache(ctx: Ctx, filters: string[], all: boolean, keepStorage?: number): Promise<PruneOutcome> {
  const r = await (await ctx.client()).request<{ CachesDeleted?: string[] | null; SpaceReclaimed?: number }>('POST', '/build/prune', {
    query: { filters: filtersQuery(filters), all: all ? 1 : undefined, 'keep-storage': keepStorage },
  });
  const ids = r?.CachesDeleted ?? [];
  return { text: ids.length ? `Deleted build cache objects:\n${ids.map((i) => i + '\n').join('')}` : '', reclaimed: r?.SpaceReclaimed ?? 0 };
}

export const forceFlag: FlagSpec = { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' };
export const pruneFilter: FlagSpec = { name: 'filter', kind: 'list', varname: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' };

export async function prune(o: { force: boolean }, warning: string, steps: (() => Promise<PruneOutcome>)[]): Promise<void> {
  if (!o.force && !(await confirm(`${warning}\nAre you sure you want to continue?`))) return;
  let total = 0;
  for (const step of steps) {
    const r = await step();
    if (r.text) process.stdout.write(r.text + '\n');
    total += r.reclaimed;
  }
  process.stdout.write(`Total reclaimed space: ${humanSize(total)}\n`);
}

export const containerPrune: Command = {
  use: 'prune [OPTIONS]',
  short: 'Remove all stopped containers',
  flags: [pruneFilter, forceFlag],
  args: [0, 0],
  run: (ctx, o) => prune({ force: o.values.force as boolean }, 'WARNING! This will remove all stopped containers.',
    [() => pruneContainers(ctx, o.values.filter as string[])]),
};

export const imagePrune: Command = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused images',
  flags: [{ name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused images, not just dangling ones' }, pruneFilter, forceFlag],
  args: [0, 0],
  run: (ctx, o) => {
    const all = o.values.all as boolean;
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    return prune({ force: o.values.force as boolean }, warning, [() => pruneImages(ctx, o.values.filter as string[], all)]);
  },
};

export const systemPrune: Command = {
  use: 'prune [OPTIONS]',
  short: 'Remove unused data',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused images not just dangling ones' },
    pruneFilter,
    forceFlag,
    { name: 'volumes', kind: 'bool', usage: 'Prune anonymous volumes' },
  ],
  args: [0, 0],
  run: (ctx, o) => {
    const all = o.values.all as boolean;
    const filters = o.values.filter as string[];
    const warning = 'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n' +
      (all ? '  - all images without at least one container associated to them\n  - all build cache\n'
        : '  - all dangling images\n  - all dangling build cache\n');
    return prune({ force: o.values.force as boolean }, warning, [
      () => pruneContainers(ctx, filters),
      () => pruneNetworks(ctx, filters),
      () => pruneImages(ctx, filters, all),
      () => pruneBuildCache(ctx, filters, all),
    ]);
  },
};

/** GET/POST /system/check's answer (the daemon's CheckReport). */
interface CheckReport {
  Checked: { Blobs: number; Layers: number; Images: number; Containers: number };
  Problems: { Kind: string; Object: string; Problem: string; Orphan: boolean; Repairable: boolean; Repaired: boolean; RepairError?: string }[];
  Remaining: number;
}

export const systemCheck: Command = {
  use: 'check [OPTIONS]',
  short: 'Verify images, containers and their state; find and remove leftovers',
  flags: [
    { name: 'repair', kind: 'bool', usage: 'Remove leftovers and broken images found' },
    { name: 'format', short: 'f', kind: 'string', usage: 'Format output: "json"' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const repair = o.values.repair as boolean;
    const format = o.values.format as string;
    if (format && format !== 'json') throw new StatusError(125, `unsupported format "${format}": use "json"`);
    const r = await (await ctx.client()).request<CheckReport>(repair ? 'POST' : 'GET', '/system/check', { query: repair ? { repair: '1' } : undefined });
    if (format === 'json') process.stdout.write(JSON.stringify(r) + '\n');
    else process.stdout.write(checkText(r));
    if (r.Remaining > 0) throw new StatusError(1);
  },
};

export function checkText(r: CheckReport): string {
  const c = r.Checked;
  const checked = `Checked ${c.Blobs} blobs, ${c.Layers} layers, ${c.Images} images, ${c.Containers} containers`;
  if (!r.Problems.length) return `${checked}: no problems found.\n`;
  const status = (p: CheckReport['Problems'][number]): string =>
    p.Repaired ? 'repaired' : p.RepairError ? `repair failed: ${p.RepairError}` : p.Repairable ? 'repairable (--repair)' : 'needs attention';
  const rows = r.Problems.map((p) => [p.Kind, p.Object, p.Problem, status(p)].join('\t') + '\n');
  const repaired = r.Problems.length - r.Remaining;
  return tabwrite(['KIND\tOBJECT\tPROBLEM\tSTATUS\n', ...rows].join(''), { minwidth: 4, padding: 3 }) +
    `${checked}: ${r.Problems.length} problem${r.Problems.length === 1 ? '' : 's'}${repaired ? `, ${repaired} repaired` : ''}.\n`;
}
