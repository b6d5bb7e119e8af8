/**
 * `compose up`/`create`: converge each service, dependencies first, to its desired containers. A container whose
 * config hash (or image) differs from the file's is recreated; an unchanged one is left running. A dependency's
 * `condition` (service_started, service_healthy, service_completed_successfully) is awaited before its dependents
 * are created. A failure halfway leaves labelled containers that the next `up` or `down` completes.
 */
import type { EngineClient } from '../../client/engine';
import { EngineError } from '../../client/engine';
import type { ContainerSummary } from '../../client/types';
import { configHash, containerName, createBody, imageName, L, serviceNetworks } from './convert';
import { parseRef, pullImage } from '../commands/pull';
import { ensureNetworks, ensureVolumes, event, injectFiles, nameOf, progress, projectContainers, stopAndRemove, stopContainer } from './engine';
import { startOrder, type Obj, type Project } from './loader';

export interface UpOptions {
  /** Build images before starting: all services' with a build section, or those named. */
  build: boolean | Set<string>;
  /** Never build: a missing image is an error (up --no-build). */
  noBuild?: boolean;
  forceRecreate: boolean;
  noRecreate: boolean;
  noStart: boolean;
  removeOrphans: boolean;
  scale: Record<string, number>;
  /** Only these services (and their dependencies unless noDeps); all when empty. */
  services: string[];
  noDeps: boolean;
  /** Builds the image of a service (compose build). */
  buildImage(service: string): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The services an operation covers: those named and what they depend on. */
export function selectServices(p: Project, names: string[], withDeps: boolean): string[] {
  for (const n of names) if (!p.model.services[n]) throw new Error(`no such service: ${n}`);
  const order = startOrder(p.model.services);
  if (!names.length) return order;
  const want = new Set(names);
  if (withDeps) {
    const add = (n: string): void => {
      want.add(n);
      for (const d of Object.keys((p.model.services[n].depends_on as Obj | undefined) ?? {})) add(d);
    };
    names.forEach(add);
  }
  return order.filter((n) => want.has(n));
}

function desiredScale(p: Project, service: string, o: UpOptions): number {
  const svc = p.model.services[service];
  return o.scale[service] ?? ((svc.deploy as Obj | undefined)?.replicas as number | undefined) ?? (svc.scale as number | undefined) ?? 1;
}

export async function imageId(client: EngineClient, p: Project, service: string, o: UpOptions): Promise<string> {
  const svc = p.model.services[service];
  const name = imageName(p, service);
  if (svc.build && (o.build === true || (o.build instanceof Set && o.build.has(service)))) await o.buildImage(service);
  try {
    return (await client.request<{ Id: string }>('GET', `/images/${encodeURIComponent(name)}/json`)).Id;
  } catch (e) {
    if (!(e instanceof EngineError && e.status === 404)) throw e;
  }
  if (!svc.build && svc.pull_policy !== 'never' && svc.pull_policy !== 'build') {
    // a missing image is pulled, as compose's default pull_policy (missing) does
    event(service, 'Pulling');
    await pullImage(client, parseRef(name), { quiet: true });
    event(service, 'Pulled');
  } else if (!svc.build || o.noBuild) throw new Error(`No such image: ${name}`);
  else await o.buildImage(service);
  return (await client.request<{ Id: string }>('GET', `/images/${encodeURIComponent(name)}/json`)).Id;
}

async function create(client: EngineClient, p: Project, service: string, n: number, image: string): Promise<string> {
  const name = containerName(p, service, n);
  progress('Container', name, 'Creating');
  const { Id } = await client.request<{ Id: string }>('POST', '/containers/create', { query: { name }, body: createBody(p, service, n, image) });
  await injectFiles(client, p, service, Id);
  // compose v2 creates on the first network and connects the others before the start
  for (const [net, ep] of serviceNetworks(p, service).slice(1)) {
    await client.request('POST', `/networks/${encodeURIComponent(net)}/connect`, { body: { Container: Id, EndpointConfig: ep } });
  }
  progress('Container', name, 'Created');
  return Id;
}

async function start(client: EngineClient, id: string, name: string): Promise<void> {
  progress('Container', name, 'Starting');
  await client.request('POST', `/containers/${id}/start`);
  progress('Container', name, 'Started');
}

/** Waits until `service`'s containers meet `condition` (compose's dependency conditions). */
export async function awaitCondition(client: EngineClient, p: Project, service: string, condition: string): Promise<void> {
  const ids = (await projectContainers(client, p.name, { all: true, service })).map((c) => c.Id);
  for (const id of ids) {
    for (;;) {
      const c = await client.request<{ Name: string; State: { Status: string; ExitCode: number; Health?: { Status: string } } }>('GET', `/containers/${id}/json`);
      const name = c.Name.replace(/^\//, '');
      if (condition === 'service_healthy') {
        const h = c.State.Health?.Status;
        if (!h) throw new Error(`container ${name} has no healthcheck configured`);
        if (h === 'healthy') { progress('Container', name, 'Healthy'); break; }
        if (h === 'unhealthy' || c.State.Status === 'exited') throw new Error(`dependency failed to start: container ${name} is unhealthy`);
      } else if (condition === 'service_completed_successfully') {
        if (c.State.Status === 'exited') {
          if (c.State.ExitCode !== 0) throw new Error(`service "${service}" didn't complete successfully: exit ${c.State.ExitCode}`);
          progress('Container', name, 'Exited');
          break;
        }
      } else if (c.State.Status !== 'created') break;
      await sleep(250);
    }
  }
}

/** Converges the selected services; returns the ids of their containers. */
export async function up(client: EngineClient, p: Project, o: UpOptions): Promise<string[]> {
  const services = selectServices(p, o.services, !o.noDeps);
  const all = await projectContainers(client, p.name, { all: true });
  const orphans = all.filter((c) => !p.model.services[c.Labels?.[L.service] ?? '']);
  if (orphans.length && o.removeOrphans) for (const c of orphans) await stopAndRemove(client, c, undefined);
  else if (orphans.length) {
    process.stderr.write(`WARN[0000] Found orphan containers ([${orphans.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`);
  }
  await ensureNetworks(client, p);
  await ensureVolumes(client, p);
  const ids: string[] = [];
  for (const service of services) {
    for (const [dep, c] of Object.entries((p.model.services[service].depends_on as Record<string, Obj> | undefined) ?? {})) {
      if (services.includes(dep) || !o.noDeps) await awaitCondition(client, p, dep, String(c.condition));
    }
    ids.push(...await converge(client, p, service, o, services));
  }
  return ids;
}

/** The selected services that declare `depends_on.<service>.restart: true`. */
export function restartDependents(p: Project, service: string, selected: string[]): string[] {
  return selected.filter((s) => ((p.model.services[s].depends_on as Record<string, Obj> | undefined)?.[service])?.restart === true);
}

/**
 * Before `service` is recreated, its restart dependents are stopped (compose v2's stopDependentContainers); they come
 * later in the start order, where converge starts them again (or recreates them if their own config changed).
 */
async function stopRestartDependents(client: EngineClient, p: Project, service: string, selected: string[]): Promise<void> {
  for (const dep of restartDependents(p, service, selected)) {
    for (const c of await projectContainers(client, p.name, { service: dep })) await stopContainer(client, c);
  }
}

async function converge(client: EngineClient, p: Project, service: string, o: UpOptions, selected: string[]): Promise<string[]> {
  const image = await imageId(client, p, service, o);
  const hash = configHash(p.model.services[service]);
  const existing = await projectContainers(client, p.name, { all: true, service });
  const scale = desiredScale(p, service, o);
  // extra replicas go first, highest number first, as compose scales down
  for (const c of existing.slice(scale).reverse()) await stopAndRemove(client, c, undefined);
  const ids: string[] = [];
  const used = new Set(existing.slice(0, scale).map((c) => Number(c.Labels?.[L.number])));
  let next = 1;
  let dependentsStopped = false;
  for (let i = 0; i < scale; i++) {
    let c: ContainerSummary | undefined = existing[i];
    const stale = c && (c.Labels?.[L.hash] !== hash || c.Labels?.[L.image] !== image);
    if (c && (o.forceRecreate || (stale && !o.noRecreate))) {
      const n = Number(c.Labels?.[L.number]);
      if (!dependentsStopped) await stopRestartDependents(client, p, service, selected);
      dependentsStopped = true;
      progress('Container', nameOf(c), 'Recreate');
      await stopAndRemove(client, c, undefined);
      const id = await create(client, p, service, n, image);
      c = undefined;
      if (!o.noStart) await start(client, id, containerName(p, service, n));
      ids.push(id);
      continue;
    }
    if (!c) {
      while (used.has(next)) next++;
      used.add(next);
      const id = await create(client, p, service, next, image);
      if (!o.noStart) await start(client, id, containerName(p, service, next));
      ids.push(id);
      continue;
    }
    if (c.State === 'running') progress('Container', nameOf(c), 'Running');
    else if (!o.noStart) await start(client, c.Id, nameOf(c));
    ids.push(c.Id);
  }
  return ids;
}
