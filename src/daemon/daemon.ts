/** Wire berthd together: stores, runtime, services, API routes; repair and reconcile before serving. */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { containerRoutes } from '../api/handlers/containers';
import { containerOpsRoutes } from '../api/handlers/container-ops';
import { diskUsageRoutes } from '../api/handlers/disk-usage';
import { execRoutes } from '../api/handlers/exec';
import { imageRoutes } from '../api/handlers/images';
import { networkRoutes } from '../api/handlers/networks';
import { pluginRoutes, swarmRoutes } from '../api/handlers/swarm';
import { systemRoutes } from '../api/handlers/system';
import { volumeRoutes } from '../api/handlers/volumes';
import { Router } from '../api/router';
import { createApiServer, type ListenerOptions } from '../api/server';
import { log } from '../common/log';
import { setSeccompProfile } from '../engine/containers/bundle';
import { SystemCheck } from '../engine/check';
import { ContainerNetworking } from '../engine/containers/network';
import { ContainerStore } from '../engine/containers/record';
import { ContainerService } from '../engine/containers/service';
import { EventBus } from '../engine/events';
import { VolumeService } from '../engine/volumes';
import { ExecService } from '../engine/exec';
import { isRootless } from '../common/rootless';
import { rootlessPortPublisher } from '../rootless/ports';
import { UsernsRemap } from '../engine/userns';
import { ImageService } from '../image/service';
import { NetworkService } from '../network/service';
import { detectCgroupMode } from '../runtime/cgroups';
import { ConmonRuntime } from '../runtime/conmon';
import { Trash } from '../store/trash';
import type { DaemonConfig } from './config';
import { engineId, hostWarnings, swapLimitSupported, toolCommit, toolVersion } from './host-facts';
import { initBinary } from '../spec/host';
import { DEFAULT_PROFILE_PATHS } from '../spec/seccomp';
import { lockDataRoot } from './lock';

export interface Daemon {
  newServer(listener?: ListenerOptions): http.Server;
  /** Before exit: with no container running, release what only containers need (bridges, NAT rules). */
  shutdown(): Promise<void>;
}

const RUNTIME_PATHS = { crun: '/usr/bin/crun', runc: '/usr/bin/runc' };

/** A value computed on first use and kept. */
function onceSync<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/** A value made on first use and shared afterwards. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

export async function startDaemon(cfg: DaemonConfig, version: string): Promise<Daemon> {
  for (const d of [cfg.dataRoot, cfg.execRoot]) fs.mkdirSync(d, { recursive: true, mode: 0o711 });
  lockDataRoot(cfg.dataRoot); // before any repair: two daemons repairing one root would delete each other's work
  const trash = new Trash(path.join(cfg.dataRoot, 'trash'));
  const emptied = trash.empty(); // removals a crash interrupted: their objects already left their names
  if (emptied) log.info('finished interrupted removals', { entries: emptied });
  const events = new EventBus();

  const images = new ImageService(path.join(cfg.dataRoot, 'image'), (action, id, attrs) => events.publish('image', action, id, attrs), cfg.layerLimits, trash);
  await images.repair();

  const runtime = new ConmonRuntime({ runRoot: cfg.execRoot, runtimePaths: RUNTIME_PATHS, logLevel: cfg.logLevel });
  const store = new ContainerStore(path.join(cfg.dataRoot, 'containers'));
  const emptyDir = path.join(cfg.dataRoot, 'empty');
  const networks = new NetworkService({
    root: path.join(cfg.dataRoot, 'network'),
    runDir: path.join(cfg.execRoot, 'network'),
    defaultBridge: cfg.bridge,
    defaultSubnet: cfg.bridgeSubnet,
    bridgePrefix: cfg.bridgePrefix,
    netnsPrefix: cfg.bridgePrefix + '-',
    trash,
    hostPorts: rootlessPortPublisher(),
  });
  await networks.ensureDefault();
  const networking = new ContainerNetworking(networks, store);
  const userns = cfg.usernsRemap ? UsernsRemap.resolve(cfg.usernsRemap, cfg.dataRoot) : undefined;
  const volumes = new VolumeService(path.join(cfg.dataRoot, 'volumes'), store, (action, name, attrs) => events.publish('volume', action, name, attrs), userns?.root);
  if (cfg.seccompProfile) setSeccompProfile(cfg.seccompProfile);
  const containers = new ContainerService({ store, images, runtime, events, defaultRuntime: cfg.defaultRuntime, emptyDir, networking, volumes, logOpts: cfg.logOpts, userns });
  await containers.reconcile();
  await networks.reconcile(store.all().filter((c) => c.Instance).map((c) => c.Id));
  await containers.restartAtBoot();
  const execs = new ExecService(store, runtime, events);
  const check = new SystemCheck({
    dataRoot: cfg.dataRoot, images, containers: store, runtime, trash, networks, settled: () => containers.settled(),
    volumeMounts: () => volumes.list({}).Volumes.map((v) => v.Mountpoint),
  });

  const router = new Router();
  const cgroupVersion = detectCgroupMode() === 'v2' ? '2' : '1';
  const swapLimit = swapLimitSupported(cgroupVersion);
  const runtimeInfo = (p: string) => ({ path: p, version: onceSync(() => toolVersion(p)), commit: onceSync(() => toolCommit(p)) });
  const init = initBinary();
  systemRoutes(router, events, {
    version,
    id: engineId(cfg.dataRoot),
    dataRoot: cfg.dataRoot,
    debug: cfg.logLevel === 'debug',
    defaultRuntime: cfg.defaultRuntime,
    runtimes: { crun: runtimeInfo(RUNTIME_PATHS.crun), runc: runtimeInfo(RUNTIME_PATHS.runc) },
    cgroupVersion,
    initBinary: init && path.basename(init),
    initCommit: onceSync(() => (init ? toolCommit(init) : '')),
    registry: { insecure: cfg.insecureRegistries, mirrors: cfg.registryMirrors },
    securityOptions: [
      ...(DEFAULT_PROFILE_PATHS.some((p) => fs.existsSync(p)) ? ['name=seccomp,profile=builtin'] : []),
      ...(userns ? ['name=userns'] : []),
      ...(isRootless() ? ['name=rootless'] : []), // as rootless dockerd: clients (docker info) show it
    ],
    swapLimit,
    warnings: hostWarnings(swapLimit),
    counts: () => {
      const all = store.all();
      const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
      const paused = all.filter((c) => c.State.Paused).length;
      return { containers: all.length, running, paused, stopped: all.length - running - paused, images: images.list({ all: false, filters: {} }).length };
    },
    check: (repair) => check.run(repair),
  });
  containerRoutes(router, containers, execs, images, networking, volumes);
  containerOpsRoutes(router, containers, images);
  execRoutes(router, execs);
  networkRoutes(router, networks, events, networking);
  volumeRoutes(router, volumes);
  diskUsageRoutes(router, { store, images, volumes, networking });
  swarmRoutes(router);
  pluginRoutes(router);
  // The registry client and the builder load on first use: an idle daemon does not carry them (~10 MB RSS).
  const distribution = once(async () => {
    const [{ Distribution }, handlers] = await Promise.all([import('../registry/client'), import('../api/handlers/distribution')]);
    const dist = new Distribution(images, (action, id, attrs) => events.publish('image', action, id, attrs), {
      insecureRegistries: cfg.insecureRegistries,
      mirrors: cfg.registryMirrors,
      metaDir: path.join(cfg.dataRoot, 'image'),
      loopbackOnly: cfg.registriesLoopbackOnly,
    });
    return { dist, register: (r: Router) => handlers.distributionRoutes(r, dist), pull: handlers.pullHandler(dist) };
  });
  imageRoutes(router, images, (id) => containers.usingImage(id), async (ctx) => (await distribution()).pull(ctx));
  router.addLazy([['POST', '/images/{name*}/push'], ['POST', '/auth'], ['GET', '/distribution/{name*}/json'], ['GET', '/images/search']], async () => (await distribution()).register);
  router.addLazy([['POST', '/build'], ['POST', '/build/prune'], ['POST', '/session']], async () => {
    const [{ Builder }, { buildRoutes }] = await Promise.all([import('../build/executor'), import('../api/handlers/build')]);
    const builder = new Builder({
      images, containers, root: path.join(cfg.dataRoot, 'build'), secretsRoot: path.join(cfg.execRoot, 'build-secrets'),
      entitlements: cfg.allowedEntitlements,
      openRepository: async (ref, push) => (await distribution()).dist.openRepository(ref, push),
    });
    return (r: Router) => buildRoutes(r, builder);
  });
  log.info('berthd ready', { dataRoot: cfg.dataRoot, runtime: cfg.defaultRuntime, containers: store.all().length });
  return {
    newServer: (listener) => createApiServer(router, listener),
    shutdown: async () => {
      if (!store.all().some((c) => c.Instance)) await networks.releaseIdle();
    },
  };
}
