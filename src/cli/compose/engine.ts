/**
 * What compose asks of the engine, through the Engine API like any client: the project's containers found by
 * their labels, its networks and volumes made once and labelled as compose v2 labels them.
 */
import type { EngineClient } from '../../client/engine';
import { EngineError } from '../../client/engine';
import type { ContainerSummary } from '../../client/types';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { COMPOSE_VERSION, fileReferences, L, resourceName } from './convert';
import type { Obj, Project } from './loader';

/** Output settings from compose's --progress and --ansi (colour undefined: when stdout is a terminal). */
export const output: { quiet: boolean; color?: boolean } = { quiet: false };

/** A progress line as compose v2 prints it without a TTY (" web  Pulled"); none with --progress quiet. */
export const event = (id: string, what: string): void => {
  if (!output.quiet) process.stderr.write(` ${id}  ${what}\n`);
};

/** A resource's progress line (" Container p-web-1  Started"). */
export const progress = (kind: string, name: string, what: string): void => event(`${kind} ${name}`, what);

export interface ListOptions { all?: boolean; service?: string; oneoff?: boolean }

/** The project's containers (one-off `run` containers only when asked), oldest number first. */
export async function projectContainers(client: EngineClient, project: string, o: ListOptions = {}): Promise<ContainerSummary[]> {
  const label = [`${L.project}=${project}`, `${L.oneoff}=${o.oneoff ? 'True' : 'False'}`];
  if (o.service) label.push(`${L.service}=${o.service}`);
  const list = await client.request<ContainerSummary[]>('GET', '/containers/json', { query: { all: o.all ? 1 : undefined, filters: JSON.stringify({ label }) } });
  const num = (c: ContainerSummary): number => Number(c.Labels?.[L.number] ?? 0);
  return list.sort((a, b) => (a.Labels?.[L.service] ?? '').localeCompare(b.Labels?.[L.service] ?? '') || num(a) - num(b));
}

export const nameOf = (c: ContainerSummary): string => c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);

/**
 * The services to restart after `services`, in order: those declaring `depends_on.<svc>.restart: true` on one restarted
 * before them, transitively (compose v2's restart). Read from the containers' depends_on labels
 * (`svc:condition:restart`), so that `-p` alone does.
 */
export function withRestartDependents(list: ContainerSummary[], services: string[]): string[] {
  const order = [...services];
  for (let i = 0; i < order.length; i++) {
    for (const c of list) {
      const s = c.Labels?.[L.service] ?? '';
      const restarts = (c.Labels?.[L.dependsOn] ?? '').split(',').some((d) => d.split(':')[0] === order[i] && d.split(':')[2] === 'true');
      if (restarts && !order.includes(s)) order.push(s);
    }
  }
  return order;
}

async function exists(client: EngineClient, path: string): Promise<boolean> {
  try {
    await client.request('GET', path);
    return true;
  } catch (e) {
    if (e instanceof EngineError && e.status === 404) return false;
    throw e;
  }
}

/** Networks the services use: created when missing (external ones must exist). */
export async function ensureNetworks(client: EngineClient, p: Project): Promise<void> {
  const used = new Set(Object.values(p.model.services).flatMap((s) => Object.keys((s.networks as Obj | undefined) ?? {})));
  for (const key of [...used].sort()) {
    const def = ((p.model.networks as Obj | undefined)?.[key] as Obj | null | undefined) ?? {};
    const name = resourceName(p, 'networks', key);
    if (await exists(client, `/networks/${encodeURIComponent(name)}`)) continue;
    if (def.external) throw new Error(`network ${name} declared as external, but could not be found`);
    progress('Network', name, 'Creating');
    const ipam = def.ipam as Obj | undefined;
    await client.request('POST', '/networks/create', {
      body: {
        Name: name, CheckDuplicate: true, Driver: def.driver ?? 'bridge', Internal: !!def.internal, Attachable: !!def.attachable, EnableIPv6: !!def.enable_ipv6,
        Options: def.driver_opts ?? {}, Labels: { ...((def.labels as Obj | undefined) ?? {}), [L.project]: p.name, [L.network]: key, [L.version]: COMPOSE_VERSION },
        ...(ipam ? { IPAM: { Driver: ipam.driver ?? 'default', Config: ((ipam.config as Obj[] | undefined) ?? []).map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ip_range, AuxiliaryAddresses: c.aux_addresses })) } } : {}),
      },
    });
    progress('Network', name, 'Created');
  }
}

/** Named volumes of the file: created when missing (external ones must exist). */
export async function ensureVolumes(client: EngineClient, p: Project): Promise<void> {
  for (const [key, d] of Object.entries((p.model.volumes as Obj | undefined) ?? {})) {
    const def = (d as Obj | null) ?? {};
    const name = resourceName(p, 'volumes', key);
    if (await exists(client, `/volumes/${encodeURIComponent(name)}`)) continue;
    if (def.external) throw new Error(`external volume "${name}" not found`);
    progress('Volume', `"${name}"`, 'Creating');
    await client.request('POST', '/volumes/create', {
      body: { Name: name, Driver: def.driver ?? 'local', DriverOpts: def.driver_opts ?? {}, Labels: { ...((def.labels as Obj | undefined) ?? {}), [L.project]: p.name, [L.volume]: key, [L.version]: COMPOSE_VERSION } },
    });
    progress('Volume', `"${name}"`, 'Created');
  }
}

/** Stops a container (timeout in seconds, the service's stop_grace_period by default) with compose's progress lines. */
export async function stopContainer(client: EngineClient, c: ContainerSummary, timeout?: number): Promise<void> {
  progress('Container', nameOf(c), 'Stopping');
  await client.request('POST', `/containers/${c.Id}/stop`, { query: { t: timeout } });
  progress('Container', nameOf(c), 'Stopped');
}

/** Stops (see stopContainer) and removes a container. */
export async function stopAndRemove(client: EngineClient, c: ContainerSummary, timeout: number | undefined, volumes = false): Promise<void> {
  const name = nameOf(c);
  if (c.State === 'running' || c.State === 'paused' || c.State === 'restarting') await stopContainer(client, c, timeout);
  progress('Container', name, 'Removing');
  await client.request('DELETE', `/containers/${c.Id}`, { query: { force: 1, v: volumes ? 1 : undefined } });
  progress('Container', name, 'Removed');
}

/**
 * Secrets and configs that are no file (an `environment` or `content` source) copied into a created container, one
 * tar entry at the target path (parents made by the extraction), mode 0444 unless given, as compose v2 injects them.
 */
export async function injectFiles(client: EngineClient, p: Project, service: string, id: string): Promise<void> {
  for (const { def, dest, ref } of fileReferences(p, { ...p.model.services[service], name: service })) {
    if (typeof def.content !== 'string') continue;
    const data = Buffer.from(def.content);
    const pack = tarStream.pack();
    pack.entry({ name: dest.replace(/^\/+/, ''), size: data.length, mode: ref.mode === undefined ? 0o444 : Number(ref.mode), uid: Number(ref.uid ?? 0), gid: Number(ref.gid ?? 0), mtime: new Date() }, data);
    pack.finalize();
    await client.request('PUT', `/containers/${id}/archive`, {
      query: { path: '/', copyUIDGID: ref.uid !== undefined || ref.gid !== undefined ? true : undefined }, body: Readable.from(pack), contentType: 'application/x-tar',
    });
  }
}
