/** `berth compose` subcommands over existing containers: ps, logs, exec, start/stop/restart/kill/rm/pause/unpause, top, port, images, ls, version. */
import { berthVersion } from '../cli';
import { exec as execCommand } from '../commands/exec';
import { parseFlags, type FlagSpec, type ParsedFlags } from '../flags';
import { displayablePorts } from '../format/containers';
import { renderList } from '../format/formatter';
import type { ContainerSummary } from '../../client/types';
import { humanDuration } from '../../common/units';
import { COMPOSE_VERSION, L } from './convert';
import { nameOf, progress, projectContainers, stopAndRemove, withRestartDependents } from './engine';
import { normalizeProjectName } from './loader';
import { followLogs } from './logs';
import type { SubCommand, SubEnv } from './commands';

const bool = (name: string, usage: string, short?: string): FlagSpec => ({ name, short, kind: 'bool', usage });

/** The project name without reading files when -p names it (ps, logs, stop... work without the compose file). */
const projectOf = (env: SubEnv): string => (env.projectName ? normalizeProjectName(env.projectName) : env.load().name);

async function selected(env: SubEnv, services: string[], all = true, dependents = false): Promise<ContainerSummary[]> {
  const client = await env.ctx.client();
  const list = await projectContainers(client, projectOf(env), { all });
  if (!services.length) return list;
  const order = dependents ? withRestartDependents(list, services) : services;
  return order.flatMap((s) => list.filter((c) => c.Labels?.[L.service] === s));
}

/** One API call per container, with compose's progress lines. */
function simple(short: string, verb: [string, string], op: (id: string, o: ParsedFlags) => { method: string; path: string; query?: Record<string, string | number | undefined> }, flags: FlagSpec[] = [], all = true, dependents = false): SubCommand {
  return {
    use: `${verb[0].toLowerCase()} [OPTIONS] [SERVICE...]`, short, flags,
    async run(env, o) {
      const client = await env.ctx.client();
      for (const c of await selected(env, o.args, all, dependents)) {
        progress('Container', nameOf(c), verb[0]);
        const r = op(c.Id, o);
        await client.request(r.method, r.path, { query: r.query });
        progress('Container', nameOf(c), verb[1]);
      }
    },
  };
}
const timeoutFlag: FlagSpec = { name: 'timeout', short: 't', kind: 'int', usage: 'Specify a shutdown timeout in seconds' };
const t = (o: ParsedFlags): number | undefined => (o.changed.has('timeout') ? (o.values.timeout as number) : undefined);

interface PsRow { ID: string; Name: string; Names: string; Image: string; Command: string; Project: string; Service: string; Created: number; CreatedSince: string; State: string; Status: string; Health: string; ExitCode: number; Ports: string; Labels: string }

function psRow(c: ContainerSummary): PsRow {
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status)?.[1]?.replace('health: ', '') ?? '';
  return {
    ID: c.Id, Name: nameOf(c), Names: nameOf(c), Image: c.Image, Command: `"${c.Command.length > 20 ? c.Command.slice(0, 19) + '…' : c.Command}"`,
    Project: c.Labels?.[L.project] ?? '', Service: c.Labels?.[L.service] ?? '', Created: c.Created,
    CreatedSince: `${humanDuration(Date.now() - c.Created * 1000)} ago`, State: c.State, Status: c.Status, Health: health,
    ExitCode: Number(/Exited \((\d+)\)/.exec(c.Status)?.[1] ?? 0), Ports: displayablePorts(c.Ports ?? []),
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(','),
  };
}
const PS_HEADER = { Name: 'NAME', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', CreatedSince: 'CREATED', Status: 'STATUS', Ports: 'PORTS', ID: 'CONTAINER ID', State: 'STATE', Project: 'PROJECT' };

export const lifecycle: Record<string, SubCommand> = {
  ps: {
    use: 'ps [OPTIONS] [SERVICE...]', short: 'List containers',
    flags: [bool('all', 'Show all stopped containers (including those created by the run command)', 'a'), bool('quiet', 'Only display IDs', 'q'),
      bool('services', 'Display services'), { name: 'format', kind: 'string', usage: 'Format the output. Values: [table | json]', default: 'table' },
      { name: 'status', kind: 'list', usage: 'Filter services by status. Values: [paused | restarting | removing | running | dead | created | exited]' }],
    async run(env, o) {
      const v = o.values;
      let list = await selected(env, o.args, v.all as boolean);
      const status = v.status as string[];
      if (status.length) list = list.filter((c) => status.includes(c.State));
      if (v.quiet) return void process.stdout.write(list.map((c) => `${c.Id}\n`).join(''));
      if (v.services) return void process.stdout.write([...new Set(list.map((c) => c.Labels?.[L.service]))].map((s) => `${s}\n`).join(''));
      const format = v.format as string;
      const rows = list.map(psRow);
      if (format === 'json') return void process.stdout.write(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
      const f = format === 'table' ? 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.CreatedSince}}\t{{.Status}}\t{{.Ports}}' : format;
      process.stdout.write(renderList(f, rows, PS_HEADER));
    },
  },
  logs: {
    use: 'logs [OPTIONS] [SERVICE...]', short: 'View output from containers',
    flags: [bool('follow', 'Follow log output', 'f'), bool('timestamps', 'Show timestamps', 't'), bool('no-log-prefix', "Don't print prefix in logs"),
      { name: 'tail', short: 'n', kind: 'string', usage: 'Number of lines to show from the end of the logs for each container', default: 'all' }],
    async run(env, o) {
      const v = o.values;
      const ids = (await selected(env, o.args)).map((c) => c.Id);
      await followLogs(await env.ctx.client(), ids, { follow: v.follow as boolean, prefix: !v['no-log-prefix'], timestamps: v.timestamps as boolean, tail: v.tail as string });
    },
  },
  exec: {
    use: 'exec [OPTIONS] SERVICE COMMAND [ARGS...]', short: 'Execute a command in a running container', interspersed: false,
    flags: [bool('detach', 'Detached mode: Run command in the background', 'd'), bool('no-TTY', 'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY.', 'T'),
      { name: 'env', short: 'e', kind: 'list', usage: 'Set environment variables' }, { name: 'user', short: 'u', kind: 'string', usage: 'Run the command as this user' },
      { name: 'workdir', short: 'w', kind: 'string', usage: 'Path to workdir directory for this command' },
      { name: 'index', kind: 'int', usage: 'index of the container if there are multiple instances of a service [default: 1]', default: 1 },
      bool('privileged', 'Give extended privileges to the process')],
    async run(env, o) {
      const v = o.values;
      const [service, ...cmd] = o.args;
      if (!service || !cmd.length) throw new Error('"berth compose exec" requires at least 2 arguments.');
      const c = (await selected(env, [service], false)).find((x) => Number(x.Labels?.[L.number]) === v.index);
      if (!c) throw new Error(`service "${service}" is not running`);
      const argv = ['-i', ...(v['no-TTY'] || !process.stdin.isTTY ? [] : ['-t']), ...(v.detach ? ['-d'] : []), ...(v.privileged ? ['--privileged'] : [])];
      for (const e of v.env as string[]) argv.push('-e', e);
      if (v.user) argv.push('-u', v.user as string);
      if (v.workdir) argv.push('-w', v.workdir as string);
      return execCommand.run(env.ctx, parseFlags([...argv, c.Id, ...cmd], execCommand.flags, false));
    },
  },
  start: simple('Start services', ['Starting', 'Started'], (id) => ({ method: 'POST', path: `/containers/${id}/start` })),
  stop: simple('Stop services', ['Stopping', 'Stopped'], (id, o) => ({ method: 'POST', path: `/containers/${id}/stop`, query: { t: t(o) } }), [timeoutFlag], false),
  restart: simple('Restart service containers', ['Restarting', 'Started'], (id, o) => ({ method: 'POST', path: `/containers/${id}/restart`, query: { t: t(o) } }), [timeoutFlag], true, true),
  kill: simple('Force stop service containers', ['Killing', 'Killed'], (id, o) => ({ method: 'POST', path: `/containers/${id}/kill`, query: { signal: o.values.signal as string } }),
    [{ name: 'signal', short: 's', kind: 'string', usage: 'SIGNAL to send to the container', default: 'SIGKILL' }], false),
  pause: simple('Pause services', ['Pausing', 'Paused'], (id) => ({ method: 'POST', path: `/containers/${id}/pause` }), [], false),
  unpause: simple('Unpause services', ['Unpausing', 'Unpaused'], (id) => ({ method: 'POST', path: `/containers/${id}/unpause` }), [], false),
  rm: {
    use: 'rm [OPTIONS] [SERVICE...]', short: 'Removes stopped service containers',
    flags: [bool('force', "Don't ask to confirm removal", 'f'), bool('stop', 'Stop the containers, if required, before removing', 's'), bool('volumes', 'Remove any anonymous volumes attached to containers', 'v')],
    async run(env, o) {
      const client = await env.ctx.client();
      for (const c of await selected(env, o.args)) {
        if (c.State === 'running' && !o.values.stop) continue;
        await stopAndRemove(client, c, undefined, o.values.volumes as boolean);
      }
    },
  },
  top: {
    use: 'top [SERVICES...]', short: 'Display the running processes', flags: [],
    async run(env, o) {
      const client = await env.ctx.client();
      for (const c of await selected(env, o.args, false)) {
        const top = await client.request<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${c.Id}/top`);
        const col = (row: string[]): Record<string, string> => Object.fromEntries(row.map((x, i) => [`c${i}`, x]));
        const format = `table ${top.Titles.map((_t, i) => `{{.c${i}}}`).join('\t')}`;
        process.stdout.write(`${nameOf(c)}\n` + renderList(format, top.Processes.map(col), col(top.Titles)) + '\n');
      }
    },
  },
  port: {
    use: 'port [OPTIONS] SERVICE PRIVATE_PORT', short: 'Print the public port for a port binding',
    flags: [{ name: 'protocol', kind: 'string', usage: 'tcp or udp', default: 'tcp' }, { name: 'index', kind: 'int', usage: 'Index of the container if service has multiple replicas', default: 1 }],
    async run(env, o) {
      const [service, privatePort] = o.args;
      if (!service || !privatePort) throw new Error('"berth compose port" requires exactly 2 arguments.');
      const c = (await selected(env, [service], false)).find((x) => Number(x.Labels?.[L.number]) === o.values.index);
      const port = c?.Ports?.find((x) => String(x.PrivatePort) === privatePort && x.Type === o.values.protocol && x.PublicPort);
      if (!port) throw new Error(`no port ${privatePort}/${String(o.values.protocol)} for container ${service}`);
      process.stdout.write(`${port.IP ?? '0.0.0.0'}:${port.PublicPort}\n`);
    },
  },
  images: {
    use: 'images [OPTIONS] [SERVICE...]', short: 'List images used by the created containers',
    flags: [bool('quiet', 'Only display IDs', 'q')],
    async run(env, o) {
      const rows = (await selected(env, o.args)).map((c) => {
        const [repo, tag = 'latest'] = c.Image.includes(':') ? [c.Image.slice(0, c.Image.lastIndexOf(':')), c.Image.slice(c.Image.lastIndexOf(':') + 1)] : [c.Image];
        return { Container: nameOf(c), Repository: repo, Tag: tag, ID: (c.ImageID ?? '').replace(/^sha256:/, '').slice(0, 12) };
      });
      if (o.values.quiet) return void process.stdout.write([...new Set(rows.map((r) => r.ID))].map((id) => `${id}\n`).join(''));
      process.stdout.write(renderList('table {{.Container}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}', rows, { Container: 'CONTAINER', Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID' }));
    },
  },
  ls: {
    use: 'ls [OPTIONS]', short: 'List running compose projects',
    flags: [bool('all', 'Show all stopped Compose projects', 'a'), bool('quiet', 'Only display IDs.', 'q'), { name: 'format', kind: 'string', usage: 'Format the output. Values: [table | json]', default: 'table' }],
    async run(env, o) {
      const client = await env.ctx.client();
      const list = await client.request<ContainerSummary[]>('GET', '/containers/json', { query: { all: o.values.all ? 1 : undefined, filters: JSON.stringify({ label: [L.project] }) } });
      const projects = new Map<string, { Name: string; states: Map<string, number>; files: string }>();
      for (const c of list) {
        const name = c.Labels?.[L.project] ?? '';
        const p = projects.get(name) ?? { Name: name, states: new Map(), files: c.Labels?.[L.files] ?? '' };
        p.states.set(c.State, (p.states.get(c.State) ?? 0) + 1);
        projects.set(name, p);
      }
      const rows = [...projects.values()].sort((a, b) => a.Name.localeCompare(b.Name)).map((p) => ({
        Name: p.Name, Status: [...p.states].map(([s, n]) => `${s}(${n})`).join(', '), ConfigFiles: p.files,
      }));
      if (o.values.quiet) return void process.stdout.write(rows.map((r) => `${r.Name}\n`).join(''));
      if (o.values.format === 'json') return void process.stdout.write(JSON.stringify(rows) + '\n');
      process.stdout.write(renderList('table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}', rows, { Name: 'NAME', Status: 'STATUS', ConfigFiles: 'CONFIG FILES' }));
    },
  },
  version: {
    use: 'version [OPTIONS]', short: 'Show the Docker Compose version information',
    flags: [bool('short', "Shows only Compose's version number."), { name: 'format', short: 'f', kind: 'string', usage: 'Format the output. Values: [pretty | json]' }],
    async run(_env, o) {
      if (o.values.short) return void process.stdout.write(`${COMPOSE_VERSION}\n`);
      if (o.values.format === 'json') return void process.stdout.write(JSON.stringify({ version: `v${COMPOSE_VERSION}` }) + '\n');
      process.stdout.write(`Berth Compose version v${COMPOSE_VERSION} (berth ${berthVersion()})\n`);
    },
  },
};
