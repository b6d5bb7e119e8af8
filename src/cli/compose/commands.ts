/** `berth compose` subcommands: each loads the project (validated first) and works through the Engine API. */
import type { Ctx } from '../cli';
import type { FlagSpec, ParsedFlags } from '../flags';
import { buildService } from './build';
import { configHash, imageName, L, resourceName } from './convert';
import { progress, projectContainers, stopAndRemove, stopContainer } from './engine';
import { startOrder, type Obj, type Project } from './loader';
import { followLogs, type LogOptions } from './logs';
import { startWatch } from './watch';
import { awaitCondition, selectServices, up, type UpOptions } from './up';
import { lifecycle } from './lifecycle';
import { pullCommand, pushCommand } from './registry';
import { runCommand } from './run';
import { stringify } from 'yaml';

export interface SubEnv { ctx: Ctx; load(): Project; projectName?: string }
export interface SubCommand {
  use: string;
  short: string;
  flags: FlagSpec[];
  interspersed?: boolean;
  run(env: SubEnv, o: ParsedFlags): Promise<number | void>;
}

const bool = (name: string, usage: string, short?: string): FlagSpec => ({ name, short, kind: 'bool', usage });
const V = (o: ParsedFlags) => o.values as Record<string, string & number & boolean & string[]>;

function scaleFlags(list: string[]): Record<string, number> {
  return Object.fromEntries(list.map((s) => {
    const [svc, n] = s.split('=');
    if (!/^\d+$/.test(n ?? '')) throw new Error(`invalid --scale value ${s}: expected SERVICE=NUM`);
    return [svc, Number(n)];
  }));
}

const upFlags: FlagSpec[] = [
  bool('detach', 'Detached mode: Run containers in the background', 'd'), bool('build', 'Build images before starting containers'),
  bool('no-build', "Don't build an image, even if it's policy"), bool('wait', 'Wait for services to be running|healthy. Implies detached mode.'),
  { name: 'wait-timeout', kind: 'int', usage: 'Maximum duration to wait for the project to be running|healthy' },
  bool('force-recreate', "Recreate containers even if their configuration and image haven't changed"),
  bool('no-recreate', "If containers already exist, don't recreate them. Incompatible with --force-recreate."),
  bool('no-deps', "Don't start linked services"), bool('no-start', "Don't start the services after creating them"),
  bool('remove-orphans', 'Remove containers for services not defined in the Compose file'),
  { name: 'scale', kind: 'list', usage: 'Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present.' },
  bool('abort-on-container-exit', 'Stops all containers if any container was stopped. Incompatible with -d'),
  { name: 'exit-code-from', kind: 'string', usage: 'Return the exit code of the selected service container. Implies --abort-on-container-exit' },
  { name: 'timeout', short: 't', kind: 'int', usage: 'Use this timeout in seconds for container shutdown when attached or when containers are already running' },
  bool('no-log-prefix', "Don't print prefix in logs"),
  bool('watch', 'Watch source code and rebuild/refresh containers when files are updated.', 'w'),
];

/** Resolves at the next Ctrl-C (the watch runs until then). */
const interrupted = (): Promise<void> => new Promise((resolve) => process.once('SIGINT', () => resolve()));

async function upRun(env: SubEnv, o: ParsedFlags, create = false): Promise<number> {
  const v = V(o);
  if (v['force-recreate'] && v['no-recreate']) throw new Error('--force-recreate and --no-recreate are incompatible');
  if (v.build && v['no-build']) throw new Error('--build and --no-build are incompatible');
  if (v.watch && (v.detach || v.wait)) throw new Error('--watch cannot be combined with --detach or --wait');
  const p = env.load();
  const client = await env.ctx.client();
  const opts: UpOptions = {
    build: v.build, noBuild: v['no-build'], forceRecreate: v['force-recreate'], noRecreate: v['no-recreate'], noStart: create || v['no-start'],
    removeOrphans: v['remove-orphans'], scale: scaleFlags(v.scale), services: o.args, noDeps: v['no-deps'],
    buildImage: (s) => buildService(env.ctx, p, s),
  };
  const ids = await up(client, p, opts);
  if (create || opts.noStart) return 0;
  if (v.wait) {
    const waited = (async () => {
      for (const s of selectServices(p, o.args, !v['no-deps'])) {
        const hc = p.model.services[s].healthcheck as Obj | undefined;
        await awaitCondition(client, p, s, hc && !hc.disable ? 'service_healthy' : 'service_started');
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const limit = v['wait-timeout'] > 0
      ? new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`timeout waiting for ${p.name} to be running|healthy (${v['wait-timeout']}s)`)), v['wait-timeout'] * 1000)))
      : waited;
    try {
      await Promise.race([waited, limit]);
    } finally {
      clearTimeout(timer);
    }
    return 0;
  }
  if (v.detach) return 0;
  const abort = v['abort-on-container-exit'] || !!v['exit-code-from'];
  const logs: LogOptions = { follow: true, prefix: !v['no-log-prefix'], timestamps: false, tail: 'all', untilOneExits: abort, exitCodeFrom: v['exit-code-from'] };
  let code: number;
  if (v.watch) {
    // the logs of the containers a rebuild makes are followed too; only Ctrl-C ends the watch
    const follow = (list: string[]): void => void followLogs(client, list, { ...logs, untilOneExits: false }).catch((e: Error) => process.stderr.write(`${e.message}\n`));
    const stop = await startWatch(client, p, { services: selectServices(p, o.args, !v['no-deps']), buildImage: opts.buildImage, prune: true, onRecreated: follow });
    follow(ids);
    await interrupted();
    stop();
    code = 130;
  } else code = await followLogs(client, ids, logs);
  // Ctrl-C (130) or the first exit with --abort-on-container-exit stops the rest; a second Ctrl-C ends berth at once
  if (code === 130) process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
  else if (abort) process.stderr.write('Aborting on container exit...\n');
  for (const c of await projectContainers(client, p.name, { all: true })) {
    if (c.State === 'running') await stopContainer(client, c, o.changed.has('timeout') ? v.timeout : undefined);
  }
  return code;
}

export const SUBCOMMANDS: Record<string, SubCommand> = {
  up: { use: 'up [OPTIONS] [SERVICE...]', short: 'Create and start containers', flags: upFlags, run: (e, o) => upRun(e, o) },
  create: {
    use: 'create [OPTIONS] [SERVICE...]', short: 'Creates containers for a service.',
    flags: [bool('build', 'Build images before starting containers'), bool('force-recreate', 'Recreate containers even if their configuration and image haven\'t changed'),
      bool('no-recreate', "If containers already exist, don't recreate them."), bool('remove-orphans', 'Remove containers for services not defined in the Compose file'),
      { name: 'scale', kind: 'list', usage: 'Scale SERVICE to NUM instances.' }, bool('no-deps', "Don't start linked services")],
    run: (e, o) => upRun(e, o, true),
  },
  down: {
    use: 'down [OPTIONS] [SERVICES]', short: 'Stop and remove containers, networks',
    flags: [bool('volumes', 'Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers.', 'v'),
      { name: 'rmi', kind: 'string', usage: 'Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")' },
      bool('remove-orphans', 'Remove containers for services not defined in the Compose file'),
      { name: 'timeout', short: 't', kind: 'int', usage: 'Specify a shutdown timeout in seconds' }],
    async run(env, o) {
      const v = V(o);
      if (v.rmi && !['local', 'all'].includes(v.rmi)) throw new Error(`invalid value for --rmi: ${v.rmi}`);
      const p = env.load();
      const client = await env.ctx.client();
      const timeout = o.changed.has('timeout') ? v.timeout : undefined;
      // dependents first, as compose stops a project (what they depend on stays up while they shut down); orphans last
      const rank = new Map(startOrder(p.model.services).reverse().map((s, i) => [s, i]));
      const position = (c: { Labels?: Record<string, string> | null }): number => rank.get(c.Labels?.[L.service] ?? '') ?? rank.size;
      const containers = [...await projectContainers(client, p.name, { all: true }), ...await projectContainers(client, p.name, { all: true, oneoff: true })]
        .sort((a, b) => position(a) - position(b));
      for (const c of containers) {
        const known = !!p.model.services[c.Labels?.[L.service] ?? ''];
        if (known || v['remove-orphans']) await stopAndRemove(client, c, timeout, v.volumes);
      }
      const nets = await client.request<{ Name: string; Id: string }[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [`${L.project}=${p.name}`] }) } });
      for (const n of nets) {
        progress('Network', n.Name, 'Removing');
        await client.request('DELETE', `/networks/${n.Id}`);
        progress('Network', n.Name, 'Removed');
      }
      if (v.volumes) {
        const vols = await client.request<{ Volumes: { Name: string }[] | null }>('GET', '/volumes', { query: { filters: JSON.stringify({ label: [`${L.project}=${p.name}`] }) } });
        for (const vol of vols.Volumes ?? []) {
          progress('Volume', vol.Name, 'Removing');
          await client.request('DELETE', `/volumes/${encodeURIComponent(vol.Name)}`);
          progress('Volume', vol.Name, 'Removed');
        }
      }
      if (v.rmi) {
        for (const s of Object.keys(p.model.services)) {
          const svc = p.model.services[s];
          if (v.rmi === 'local' && svc.image) continue;
          try {
            await client.request('DELETE', `/images/${encodeURIComponent(imageName(p, s))}`);
            progress('Image', imageName(p, s), 'Removed');
          } catch { /* an image in use elsewhere or already gone stays, as compose */ }
        }
      }
    },
  },
  config: {
    use: 'config [OPTIONS] [SERVICE...]', short: 'Parse, resolve and render compose file in canonical format',
    flags: [bool('services', 'Print the service names, one per line.'), bool('volumes', 'Print the volume names, one per line.'),
      bool('quiet', 'Only validate the configuration, don\'t print anything.', 'q'), bool('hash', 'Print the service config hash, one per line.'),
      { name: 'format', kind: 'string', usage: 'Format the output. Values: [yaml | json]', default: 'yaml' }],
    async run(env, o) {
      const v = V(o);
      const p = env.load();
      if (v.quiet) return;
      if (v.services) return void process.stdout.write(Object.keys(p.model.services).map((s) => `${s}\n`).join(''));
      if (v.volumes) return void process.stdout.write(Object.keys((p.model.volumes as Obj | undefined) ?? {}).map((s) => `${s}\n`).join(''));
      if (o.changed.has('hash')) return void process.stdout.write(Object.entries(p.model.services).map(([s, svc]) => `${s} ${configHash(svc)}\n`).join(''));
      // as compose prints it: every network and volume with the name the engine knows it by
      const named = (kind: 'networks' | 'volumes', keys: string[]): Obj =>
        Object.fromEntries(keys.map((k) => [k, { ...(((p.model[kind] as Obj | undefined)?.[k] as Obj | null) ?? {}), name: resourceName(p, kind, k) }]));
      const netKeys = [...new Set(Object.values(p.model.services).flatMap((s) => Object.keys((s.networks as Obj | undefined) ?? {})))];
      // a value the loader read from the environment is not printed: compose prints `environment: VAR`
      const sources = (kind: 'secrets' | 'configs'): Obj | undefined => (p.model[kind] ? Object.fromEntries(Object.entries(p.model[kind] as Record<string, Obj | null>)
        .map(([k, def]) => [k, def?.environment === undefined ? def : { ...def, content: undefined }])) : undefined);
      const model = { ...p.model, networks: named('networks', netKeys), volumes: named('volumes', Object.keys((p.model.volumes as Obj | undefined) ?? {})), secrets: sources('secrets'), configs: sources('configs') };
      process.stdout.write(v.format === 'json' ? JSON.stringify(model, null, 2) + '\n' : stringify(model));
    },
  },
  build: {
    use: 'build [OPTIONS] [SERVICE...]', short: 'Build or rebuild services',
    flags: [bool('no-cache', 'Do not use cache when building the image'), bool('quiet', "Don't print anything to STDOUT", 'q')],
    async run(env, o) {
      const p = env.load();
      for (const s of selectServices(p, o.args, false)) if (p.model.services[s].build) await buildService(env.ctx, p, s, V(o)['no-cache']);
    },
  },
  watch: {
    use: 'watch [SERVICE...]', short: 'Watch build context for service and rebuild/refresh containers when files are updated',
    flags: [bool('no-up', 'Do not build & start services before watching'), bool('quiet', 'hide build output'),
      { name: 'prune', kind: 'bool', usage: 'Prune dangling images on rebuild', default: true }],
    async run(env, o) {
      const v = V(o);
      const p = env.load();
      const client = await env.ctx.client();
      const buildImage = (s: string): Promise<void> => buildService(env.ctx, p, s);
      // as compose: a service with both build and develop is built on every watch start
      const build = new Set(Object.keys(p.model.services).filter((s) => p.model.services[s].build && p.model.services[s].develop));
      if (!v['no-up']) {
        await up(client, p, { build, forceRecreate: false, noRecreate: false, noStart: false, removeOrphans: false, scale: {}, services: o.args, noDeps: false, buildImage });
      }
      const stop = await startWatch(client, p, { services: selectServices(p, o.args, true), buildImage, prune: v.prune });
      await interrupted();
      stop();
      return 0;
    },
  },
  run: runCommand,
  pull: pullCommand,
  push: pushCommand,
  ...lifecycle,
};
