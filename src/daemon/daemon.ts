/** Wire berthd together: stores, runtime, services, API routes; repair and reconcile before serving. */
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { containerRoutes } from '../api/handlers/containers';
import { containerOpsRoutes } from '../api/handlers/container-ops';
import { execRoutes } from '../api/handlers/exec';
import { imageRoutes } from '../api/handlers/images';
import { networkRoutes } from '../api/handlers/networks';
import { systemRoutes } from '../api/handlers/system';
import { volumeRoutes } from '../api/handlers/volumes';
import { Router } from '../api/router';
import { createApiServer } from '../api/server';
import { log } from '../common/log';
import { ContainerNetworking } from '../engine/containers/network';
import { ContainerStore } from '../engine/containers/record';
import { ContainerService } from '../engine/containers/service';
import { EventBus } from '../engine/events';
import { VolumeService } from '../engine/volumes';
import { ExecService } from '../engine/exec';
import { UsernsRemap } from '../engine/userns';
import { ImageService } from '../image/service';
import { NetworkService } from '../network/service';
import { detectCgroupMode } from '../runtime/cgroups';
import { ConmonRuntime } from '../runtime/conmon';
import type { DaemonConfig } from './config';

export interface Daemon {
  newServer(): http.Server;
  /** Before exit: with no container running, release what only containers need (bridges, NAT rules). */
  shutdown(): Promise<void>;
}

const RUNTIME_PATHS = { crun: '/usr/bin/crun', runc: '/usr/bin/runc' };

/** A value made on first use and shared afterwards. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

export async function startDaemon(cfg: DaemonConfig, version: string): Promise<Daemon> {
  for (const d of [cfg.dataRoot, cfg.execRoot]) fs.mkdirSync(d, { recursive: true, mode: 0o711 });
  const events = new EventBus();

  const images = new ImageService(path.join(cfg.dataRoot, 'image'), (action, id, attrs) => events.publish('image', action, id, attrs));
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
  });
  await networks.ensureDefault();
  const networking = new ContainerNetworking(networks, store);
  const userns = cfg.usernsRemap ? UsernsRemap.resolve(cfg.usernsRemap, cfg.dataRoot) : undefined;
  const volumes = new VolumeService(path.join(cfg.dataRoot, 'volumes'), store, (action, name, attrs) => events.publish('volume', action, name, attrs), userns?.root);
  const containers = new ContainerService({ store, images, runtime, events, defaultRuntime: cfg.defaultRuntime, emptyDir, networking, volumes, logOpts: cfg.logOpts, userns });
  await containers.reconcile();
  await networks.reconcile(store.all().filter((c) => c.Instance).map((c) => c.Id));
  await containers.restartAtBoot();
  const execs = new ExecService(store, runtime, events);

  const router = new Router();
  systemRoutes(router, events, {
    version,
    dataRoot: cfg.dataRoot,
    defaultRuntime: cfg.defaultRuntime,
    runtimes: { crun: { path: RUNTIME_PATHS.crun }, runc: { path: RUNTIME_PATHS.runc } },
    cgroupVersion: detectCgroupMode() === 'v2' ? '2' : '1',
    counts: () => {
      const all = store.all();
      const running = all.filter((c) => c.State.Running && !c.State.Paused).length;
      const paused = all.filter((c) => c.State.Paused).length;
      return { containers: all.length, running, paused, stopped: all.length - running - paused, images: images.list({ all: false, filters: {} }).length };
    },
  });
  containerRoutes(router, containers, execs, images, networking, volumes);
  containerOpsRoutes(router, containers, images);
  execRoutes(router, execs);
  networkRoutes(router, networks, events, networking);
  volumeRoutes(router, volumes);
  // The registry client and the builder load on first use: an idle daemon does not carry them (~10 MB RSS).
  const distribution = once(async () => {
    const [{ Distribution }, handlers] = await Promise.all([import('../registry/client'), import('../api/handlers/distribution')]);
    const dist = new Distribution(images, (action, id, attrs) => events.publish('image', action, id, attrs), {
      insecureRegistries: cfg.insecureRegistries,
      mirrors: cfg.registryMirrors,
      metaDir: path.join(cfg.dataRoot, 'image'),
      loopbackOnly: cfg.registriesLoopbackOnly,
    });
    return { register: (r: Router) => handlers.distributionRoutes(r, dist), pull: handlers.pullHandler(dist) };
  });
  imageRoutes(router, images, (id) => containers.usingImage(id), async (ctx) => (await distribution()).pull(ctx));
  router.addLazy([['POST', '/images/{name*}/push'], ['POST', '/auth'], ['GET', '/distribution/{name*}/json']], async () => (await distribution()).register);
  router.addLazy([['POST', '/build']], async () => {
    const [{ Builder }, { buildRoutes }] = await Promise.all([import('../build/executor'), import('../api/handlers/build')]);
    const builder = new Builder({ images, containers, root: path.join(cfg.dataRoot, 'build') });
    return (r: Router) => buildRoutes(r, builder);
  });
  log.info('berthd ready', { dataRoot: cfg.dataRoot, runtime: cfg.defaultRuntime, containers: store.all().length });
  return {
    newServer: () => createApiServer(router),
    shutdown: async () => {
      if (!store.all().some((c) => c.Instance)) await networks.releaseIdle();
    },
  };
}
