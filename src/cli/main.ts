#!/usr/bin/env node
/**
 * berth: docker's command line over the Engine API. This file only routes argv to a command module, which is
 * loaded lazily so that each command pays for its own code only (start-up is the floor of every command).
 */
import { berthVersion, Ctx, StatusError, type Command } from './cli';
import { FlagError, flagUsages, parseFlags, type FlagSpec } from './flags';

/** [module under ./commands, export name, one-line description] */
type Entry = [string, string, string];

const TOP: Record<string, Entry> = {
  attach: ['attach', 'attach', 'Attach local standard input, output, and error streams to a running container'],
  build: ['build', 'build', 'Build an image from a Dockerfile'],
  compose: ['compose', 'compose', 'Define and run multi-container applications'],
  commit: ['container-ops', 'commit', "Create a new image from a container's changes"],
  cp: ['cp', 'cp', 'Copy files/folders between a container and the local filesystem'],
  create: ['run', 'create', 'Create a new container'],
  diff: ['container-ops', 'diff', "Inspect changes to files or directories on a container's filesystem"],
  events: ['system', 'events', 'Get real time events from the server'],
  exec: ['exec', 'exec', 'Execute a command in a running container'],
  export: ['container-ops', 'exportContainer', "Export a container's filesystem as a tar archive"],
  images: ['images', 'images', 'List images'],
  import: ['images', 'importImage', 'Import the contents from a tarball to create a filesystem image'],
  info: ['system', 'info', 'Display system-wide information'],
  inspect: ['inspect', 'inspect', 'Return low-level information on Berth objects'],
  kill: ['lifecycle', 'kill', 'Kill one or more running containers'],
  load: ['images', 'load', 'Load an image from a tar archive or STDIN'],
  login: ['login', 'login', 'Log in to a registry'],
  logout: ['login', 'logout', 'Log out from a registry'],
  logs: ['logs', 'logs', 'Fetch the logs of a container'],
  port: ['network', 'port', 'List port mappings or a specific mapping for the container'],
  pause: ['lifecycle', 'pause', 'Pause all processes within one or more containers'],
  ps: ['ps', 'ps', 'List containers'],
  pull: ['pull', 'pull', 'Download an image from a registry'],
  push: ['push', 'push', 'Upload an image to a registry'],
  rename: ['lifecycle', 'rename', 'Rename a container'],
  restart: ['lifecycle', 'restart', 'Restart one or more containers'],
  rm: ['lifecycle', 'rm', 'Remove one or more containers'],
  rmi: ['images', 'rmi', 'Remove one or more images'],
  run: ['run', 'run', 'Create and run a new container from an image'],
  save: ['images', 'save', 'Save one or more images to a tar archive (streamed to STDOUT by default)'],
  start: ['lifecycle', 'start', 'Start one or more stopped containers'],
  stats: ['stats', 'stats', 'Display a live stream of container(s) resource usage statistics'],
  stop: ['lifecycle', 'stop', 'Stop one or more running containers'],
  tag: ['images', 'tag', 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE'],
  top: ['lifecycle', 'top', 'Display the running processes of a container'],
  unpause: ['lifecycle', 'unpause', 'Unpause all processes within one or more containers'],
  update: ['container-ops', 'update', 'Update configuration of one or more containers'],
  version: ['system', 'version', 'Show the Berth version information'],
  wait: ['lifecycle', 'wait', 'Block until one or more containers stop, then print their exit codes'],
};
const e = (n: string): Entry => TOP[n];

const GROUPS: Record<string, { short: string; cmds: Record<string, Entry> }> = {
  container: {
    short: 'Manage containers',
    cmds: {
      attach: e('attach'), create: e('create'), exec: e('exec'), inspect: ['inspect', 'containerInspect', 'Display detailed information on one or more containers'],
      kill: e('kill'), logs: e('logs'), port: e('port'), ls: e('ps'), ps: e('ps'), list: e('ps'), pause: e('pause'),
      prune: ['system', 'containerPrune', 'Remove all stopped containers'], rename: e('rename'), restart: e('restart'),
      rm: e('rm'), remove: e('rm'), run: e('run'), start: e('start'), stop: e('stop'), top: e('top'),
      unpause: e('unpause'), wait: e('wait'), commit: e('commit'), cp: e('cp'), diff: e('diff'), export: e('export'),
      stats: e('stats'), update: e('update'),
    },
  },
  image: {
    short: 'Manage images',
    cmds: {
      bootstrap: ['bootstrap', 'bootstrap', "Create a base image from Debian packages with mmdebstrap and the host's apt sources"],
      build: e('build'), import: e('import'), inspect: ['inspect', 'imageInspect', 'Display detailed information on one or more images'],
      load: e('load'), ls: e('images'), list: e('images'), prune: ['system', 'imagePrune', 'Remove unused images'],
      rm: e('rmi'), remove: e('rmi'), save: e('save'), tag: e('tag'), pull: e('pull'), push: e('push'),
    },
  },
  builder: {
    short: 'Manage builds',
    cmds: { prune: ['builder', 'builderPrune', 'Remove build cache'], build: e('build') },
  },
  registry: {
    short: 'Run a registry (no daemon needed)',
    cmds: {
      serve: ['registry', 'serve', 'Run a registry (OCI distribution) in the foreground'],
      'garbage-collect': ['registry', 'garbageCollectCmd', 'Delete blobs no manifest references'],
    },
  },
  network: {
    short: 'Manage networks',
    cmds: {
      create: ['network', 'networkCreate', 'Create a network'], ls: ['network', 'networkLs', 'List networks'],
      list: ['network', 'networkLs', 'List networks'], inspect: ['network', 'networkInspect', 'Display detailed information on one or more networks'],
      rm: ['network', 'networkRm', 'Remove one or more networks'], remove: ['network', 'networkRm', 'Remove one or more networks'],
      prune: ['network', 'networkPrune', 'Remove all unused networks'],
      connect: ['network', 'networkConnect', 'Connect a container to a network'],
      disconnect: ['network', 'networkDisconnect', 'Disconnect a container from a network'],
    },
  },
  volume: {
    short: 'Manage volumes',
    cmds: {
      create: ['volume', 'volumeCreate', 'Create a volume'], ls: ['volume', 'volumeLs', 'List volumes'], list: ['volume', 'volumeLs', 'List volumes'],
      inspect: ['volume', 'volumeInspect', 'Display detailed information on one or more volumes'],
      rm: ['volume', 'volumeRm', 'Remove one or more volumes'], remove: ['volume', 'volumeRm', 'Remove one or more volumes'],
      prune: ['volume', 'volumePrune', 'Remove unused local volumes'],
    },
  },
  context: {
    short: 'Manage contexts',
    cmds: {
      create: ['context', 'contextCreate', 'Create a context'], export: ['context', 'contextExport', 'Export a context to a tar archive FILE or a tar stream on STDOUT.'],
      import: ['context', 'contextImport', 'Import a context from a tar or zip file'],
      inspect: ['context', 'contextInspect', 'Display detailed information on one or more contexts'],
      ls: ['context', 'contextLs', 'List contexts'], list: ['context', 'contextLs', 'List contexts'],
      rm: ['context', 'contextRm', 'Remove one or more contexts'], remove: ['context', 'contextRm', 'Remove one or more contexts'],
      update: ['context', 'contextUpdate', 'Update a context'], use: ['context', 'contextUse', 'Set the current docker context'],
    },
  },
  system: {
    short: 'Manage Berth',
    cmds: {
      check: ['system', 'systemCheck', 'Verify images, containers and their state; find and remove leftovers'],
      events: e('events'), info: e('info'), prune: ['system', 'systemPrune', 'Remove unused data'],
      install: ['service', 'install', 'Install Berth as a systemd service and create the berth group'],
      uninstall: ['service', 'uninstall', 'Stop and remove the Berth systemd units'],
      'dial-stdio': ['service', 'dialStdio', 'Proxy the stdio stream to the daemon connection'],
      'rootless-check': ['rootless', 'rootlessCheck', 'Check that this user can run a rootless berthd'],
    },
  },
};

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'context', short: 'c', kind: 'string', usage: 'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var and default context set with "berth context use")' },
  { name: 'host', short: 'H', kind: 'list', usage: 'Daemon socket to connect to' },
  { name: 'debug', short: 'D', kind: 'bool', usage: 'Enable debug mode' },
  { name: 'tls', kind: 'bool', usage: 'Use TLS; implied by --tlsverify' },
  { name: 'tlscacert', kind: 'string', usage: 'Trust certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem")' },
  { name: 'tlscert', kind: 'string', usage: 'Path to TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem")' },
  { name: 'tlskey', kind: 'string', usage: 'Path to TLS key file (default "$DOCKER_CERT_PATH/key.pem")' },
  { name: 'tlsverify', kind: 'bool', usage: 'Use TLS and verify the remote' },
  { name: 'log-level', short: 'l', kind: 'string', usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")', default: 'info' },
  { name: 'version', short: 'v', kind: 'bool', usage: 'Print version information and quit' },
];

function usage(): string {
  const list = (r: Record<string, Entry | { short: string }>): string =>
    Object.keys(r).sort().map((k) => `  ${k.padEnd(11)} ${'short' in r[k] ? (r[k] as { short: string }).short : (r[k] as Entry)[2]}\n`).join('');
  return `\nUsage:  berth [OPTIONS] COMMAND\n\nA container engine that speaks the Docker Engine API\n\n` +
    `Management Commands:\n${list(GROUPS)}\nCommands:\n${list(TOP)}\nGlobal Options:\n${flagUsages(GLOBAL_FLAGS)}\n` +
    `Run 'berth COMMAND --help' for more information on a command.\n`;
}

function commandHelp(path: string, cmd: Command, aliases: string): string {
  const useLine = `${path}${cmd.use.slice(cmd.use.indexOf(' ') < 0 ? cmd.use.length : cmd.use.indexOf(' '))}`;
  const opts = flagUsages(cmd.flags);
  return `\nUsage:  ${useLine}\n\n${cmd.short}\n\n${aliases ? `Aliases:\n  ${aliases}\n\n` : ''}${opts ? `Options:\n${opts}` : ''}`;
}

/** cobra's Requires*Args messages (exit status 1, as docker). */
function checkArgs(path: string, cmd: Command, n: number): void {
  if (!cmd.args) return;
  const [min, max] = cmd.args;
  if (n >= min && n <= max) return;
  const plural = (k: number): string => `${k} argument${k === 1 ? '' : 's'}`;
  let what: string;
  if (max === 0) what = 'accepts no arguments';
  else if (min === max) what = `requires exactly ${plural(min)}`;
  else if (max === Infinity) what = `requires at least ${plural(min)}`;
  else if (min === 0) what = `requires at most ${plural(max)}`;
  else what = `requires at least ${min} and at most ${plural(max)}`;
  const useLine = `${path}${cmd.use.slice(cmd.use.indexOf(' '))}`;
  throw new StatusError(1, `"${path}" ${what}.\nSee '${path} --help'.\n\nUsage:  ${useLine}\n\n${cmd.short}`);
}

async function main(argv: string[]): Promise<number> {
  let path = 'berth';
  let global;
  try {
    global = parseFlags(argv, GLOBAL_FLAGS, false);
  } catch (err) {
    if (err instanceof FlagError) throw new StatusError(125, `${err.message}\nSee 'berth --help'.`);
    throw err;
  }
  if (global.values.version) {
    process.stdout.write(`Berth version ${berthVersion()}\n`);
    return 0;
  }
  const [name, ...rest] = global.args;
  if (!name) {
    process.stdout.write(usage());
    return 0;
  }
  let entry: Entry | undefined = TOP[name];
  let args = rest;
  path = `berth ${name}`;
  let aliases = '';
  if (GROUPS[name]) {
    const group = GROUPS[name];
    const sub = rest[0];
    if (!sub || sub.startsWith('-')) {
      process.stdout.write(`\nUsage:  berth ${name} COMMAND\n\n${group.short}\n\nCommands:\n` +
        Object.keys(group.cmds).sort().map((k) => `  ${k.padEnd(11)} ${group.cmds[k][2]}\n`).join('') +
        `\nRun 'berth ${name} COMMAND --help' for more information on a command.\n`);
      return 0;
    }
    entry = group.cmds[sub];
    path = `berth ${name} ${sub}`;
    args = rest.slice(1);
    if (!entry) throw new StatusError(1, `berth: '${name} ${sub}' is not a berth command.\nSee 'berth ${name} --help'`);
  } else if (entry) {
    const groupForms = Object.entries(GROUPS).flatMap(([g, { cmds }]) =>
      Object.entries(cmds).filter(([, v]) => v === entry).map(([k]) => `berth ${g} ${k}`));
    aliases = [...groupForms, path].join(', ');
  }
  if (!entry) throw new StatusError(1, `berth: '${name}' is not a berth command.\nSee 'berth --help'`);

  const mod = (await import(`./commands/${entry[0]}`)) as Record<string, Command>;
  const cmd = mod[entry[1]];
  let parsed;
  try {
    parsed = parseFlags(args, cmd.flags, cmd.interspersed !== false);
  } catch (err) {
    if (err instanceof FlagError) throw new StatusError(125, `${err.message}\nSee '${path} --help'.`);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(commandHelp(path, cmd, aliases));
    return 0;
  }
  checkArgs(path, cmd, parsed.args.length);
  const g = global.values;
  const hostFlags = {
    host: (g.host as string[]).at(-1),
    tls: g.tls as boolean,
    // only an explicit --tlsverify overrides $DOCKER_TLS_VERIFY
    tlsverify: global.changed.has('tlsverify') ? (g.tlsverify as boolean) : undefined,
    tlscacert: g.tlscacert as string,
    tlscert: g.tlscert as string,
    tlskey: g.tlskey as string,
    context: g.context as string,
  };
  const code = await cmd.run(new Ctx(path, hostFlags), parsed);
  return code ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const status = err instanceof StatusError ? err.code : 1;
    const msg = err instanceof Error ? err.message : String(err);
    if (msg) process.stderr.write(msg.endsWith('\n') ? msg : msg + '\n');
    process.exit(status);
  },
);
