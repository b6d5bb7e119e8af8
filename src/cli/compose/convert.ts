/**
 * A normalized compose service as Engine API requests, named and labelled exactly as Docker Compose v2 does
 * (`<project>-<service>-<n>`, com.docker.compose.* labels, a config hash over the service's normalized form).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { ramInBytes } from '../../common/units';
import { ipamConfig, nanoCpus, parsePortSpec, parseRestart } from '../commands/container-opts';
import { parseGoDuration } from '../../common/duration';
import type { Obj, Project } from './loader';

/** The compose version written into com.docker.compose.version (the v2 release whose behaviour Berth follows). */
export const COMPOSE_VERSION = '2.20.2';
export const L = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  hash: 'com.docker.compose.config-hash',
  files: 'com.docker.compose.project.config_files',
  workdir: 'com.docker.compose.project.working_dir',
  dependsOn: 'com.docker.compose.depends_on',
  version: 'com.docker.compose.version',
  image: 'com.docker.compose.image',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

export const containerName = (p: Project, service: string, n: number): string =>
  (p.model.services[service].container_name as string | undefined) ?? `${p.name}-${service}-${n}`;

/** The image a service runs: its `image`, else the one `build` makes (`<project>-<service>`, as compose v2). */
export const imageName = (p: Project, service: string): string => (p.model.services[service].image as string | undefined) ?? `${p.name}-${service}`;

/** A network or volume key of the file as the engine names it. */
export function resourceName(p: Project, kind: 'networks' | 'volumes', key: string): string {
  const def = ((p.model[kind] as Obj | undefined)?.[key] as Obj | null | undefined) ?? {};
  if (def.name) return String(def.name);
  return `${p.name}_${key}`;
}

/** sha256 of the service's normalized form, less what does not change a container (scale, build details, develop). */
export function configHash(svc: Obj): string {
  const { build: _b, deploy, scale: _s, pull_policy: _p, develop: _d, ...rest } = svc;
  const d = deploy ? { ...(deploy as Obj), replicas: undefined } : undefined;
  return createHash('sha256').update(JSON.stringify(canonical({ ...rest, deploy: d }))).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Obj)[k] !== undefined).map((k) => [k, canonical((v as Obj)[k])]));
}

/** Go duration string → nanoseconds (healthcheck fields, stop_grace_period). */
const nanos = (v: unknown): number => (v === undefined ? 0 : parseGoDuration(String(v)));

function healthcheck(h: Obj | undefined): Obj | undefined {
  if (!h) return undefined;
  if (h.disable) return { Test: ['NONE'] };
  const test = typeof h.test === 'string' ? ['CMD-SHELL', h.test] : (h.test as string[] | undefined);
  return {
    ...(test ? { Test: test } : {}),
    Interval: nanos(h.interval), Timeout: nanos(h.timeout), StartPeriod: nanos(h.start_period), Retries: Number(h.retries ?? 0),
  };
}

function ports(list: unknown[]): { exposed: Obj; bindings: Record<string, Obj[]> } {
  const exposed: Obj = {};
  const bindings: Record<string, Obj[]> = {};
  for (const p of list) {
    const specs = typeof p === 'object' && p !== null
      ? (() => {
        const o = p as Obj;
        const host = o.published === undefined ? '' : `${String(o.published)}:`;
        return parsePortSpec(`${o.host_ip ? `${String(o.host_ip)}:` : ''}${host}${String(o.target)}/${String(o.protocol ?? 'tcp')}`);
      })()
      : parsePortSpec(String(p));
    for (const { port, binding } of specs) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  return { exposed, bindings };
}

/** Mounts and binds: named volumes become `<project>_<name>`; secrets and configs from files are bound read-only. */
function mounts(p: Project, svc: Obj): { binds: string[]; mounts: Obj[] } {
  const binds: string[] = [];
  const out: Obj[] = [];
  for (const v of (svc.volumes as Obj[] | undefined) ?? []) {
    if (v.type === 'bind') binds.push(`${String(v.source)}:${String(v.target)}${v.read_only ? ':ro' : ''}`);
    else if (v.type === 'volume') {
      out.push({ Type: 'volume', Source: v.source ? resourceName(p, 'volumes', String(v.source)) : '', Target: v.target, ReadOnly: !!v.read_only, ...((v.volume as Obj | undefined)?.nocopy ? { VolumeOptions: { NoCopy: true } } : {}) });
    } else if (v.type === 'tmpfs') {
      const size = (v.tmpfs as Obj | undefined)?.size;
      out.push({ Type: 'tmpfs', Target: v.target, ...(size !== undefined ? { TmpfsOptions: { SizeBytes: typeof size === 'number' ? size : ramInBytes(String(size)) } } : {}) });
    }
  }
  for (const { def, dest } of fileReferences(p, svc)) if (typeof def.file === 'string') binds.push(`${path.resolve(p.workingDir, def.file)}:${dest}:ro`);
  return { binds, mounts: out };
}

export interface FileReference { def: Obj; dest: string; ref: Obj }

/**
 * A service's secrets and configs with the path each appears at in the container (secrets under /run/secrets, configs
 * at /<name>, unless `target` says). Those from a file are bound; the others (`environment`, read into `content` by the
 * loader, or `content`) are copied in before the start, as compose does.
 */
export function fileReferences(p: Project, svc: Obj): FileReference[] {
  return (['secrets', 'configs'] as const).flatMap((kind) => ((svc[kind] as Obj[] | undefined) ?? []).map((ref) => {
    const def = ((p.model[kind] as Obj | undefined)?.[String(ref.source)] as Obj | undefined) ?? {};
    if (typeof def.file !== 'string' && typeof def.content !== 'string') throw new Error(`service ${String(svc.name)}: ${kind.slice(0, -1)} ${String(ref.source)}: only file, environment and content sources are supported`);
    const target = String(ref.target ?? (kind === 'secrets' ? ref.source : `/${String(ref.source)}`));
    return { def, dest: path.isAbsolute(target) ? target : `/run/secrets/${target}`, ref };
  }));
}

/** The service's networks as [engine name, endpoint config], the first one the container is created on. */
export function serviceNetworks(p: Project, service: string): [string, Obj][] {
  const svc = p.model.services[service];
  return Object.entries((svc.networks as Record<string, Obj | null> | undefined) ?? {}).map(([key, ep]) => [
    resourceName(p, 'networks', key),
    { Aliases: [service, ...(((ep?.aliases as string[] | undefined) ?? []))], IPAMConfig: ipamConfig(ep?.ipv4_address as string | undefined, ep?.ipv6_address as string | undefined) ?? undefined },
  ]);
}

/** POST /containers/create body for replica `n` of `service` (oneoff for `run`). */
export function createBody(p: Project, service: string, n: number, imageId: string, oneoff = false): Obj {
  const svc: Obj = { ...p.model.services[service], name: service };
  const { exposed, bindings } = ports((svc.ports as unknown[] | undefined) ?? []);
  for (const e of (svc.expose as unknown[] | undefined) ?? []) exposed[String(e).includes('/') ? String(e) : `${String(e)}/tcp`] = {};
  const { binds, mounts: m } = mounts(p, svc);
  const limits = (((svc.deploy as Obj | undefined)?.resources as Obj | undefined)?.limits as Obj | undefined) ?? {};
  const reservations = (((svc.deploy as Obj | undefined)?.resources as Obj | undefined)?.reservations as Obj | undefined) ?? {};
  const mem = (v: unknown): number => (v === undefined ? 0 : typeof v === 'number' ? v : ramInBytes(String(v)));
  const deps = Object.entries((svc.depends_on as Record<string, Obj> | undefined) ?? {}).map(([d, c]) => `${d}:${String(c.condition)}:${String(!!c.restart)}`);
  const nets = serviceNetworks(p, service);
  const labels: Record<string, string> = {
    ...((svc.labels as Record<string, string> | undefined) ?? {}),
    [L.project]: p.name, [L.service]: service, [L.number]: String(n), [L.oneoff]: oneoff ? 'True' : 'False',
    [L.hash]: configHash(p.model.services[service]), [L.files]: p.files.join(','), [L.workdir]: p.workingDir,
    [L.dependsOn]: deps.join(','), [L.version]: COMPOSE_VERSION, [L.image]: imageId,
  };
  const env = Object.entries((svc.environment as Record<string, string> | undefined) ?? {}).map(([k, v]) => `${k}=${v}`);
  const grace = svc.stop_grace_period === undefined ? undefined : Math.round(nanos(svc.stop_grace_period) / 1e9);
  const network = (svc.network_mode as string | undefined) ?? nets[0]?.[0] ?? 'none';
  return {
    Hostname: svc.hostname ?? '', Domainname: svc.domainname ?? '', User: svc.user ?? '',
    Tty: !!svc.tty, OpenStdin: !!svc.stdin_open, AttachStdin: false, AttachStdout: false, AttachStderr: false,
    Env: env, Cmd: svc.command ?? null, Entrypoint: svc.entrypoint ?? null, Image: imageName(p, service),
    WorkingDir: svc.working_dir ?? '', Labels: labels, ExposedPorts: exposed,
    ...(svc.healthcheck ? { Healthcheck: healthcheck(svc.healthcheck as Obj) } : {}),
    ...(svc.stop_signal ? { StopSignal: svc.stop_signal } : {}),
    ...(grace !== undefined ? { StopTimeout: grace } : {}),
    HostConfig: {
      Binds: binds, Mounts: m, PortBindings: bindings, NetworkMode: network,
      RestartPolicy: parseRestart(String(svc.restart ?? 'no')),
      Init: svc.init ?? null, Privileged: !!svc.privileged, ReadonlyRootfs: !!svc.read_only,
      CapAdd: svc.cap_add ?? null, CapDrop: svc.cap_drop ?? null, ExtraHosts: svc.extra_hosts ?? null,
      Dns: svc.dns ?? null, Tmpfs: Array.isArray(svc.tmpfs) ? Object.fromEntries((svc.tmpfs as string[]).map((t) => [t, ''])) : undefined,
      Memory: mem(limits.memory ?? svc.mem_limit), MemoryReservation: mem(reservations.memory ?? svc.mem_reservation),
      NanoCpus: limits.cpus !== undefined ? nanoCpus(String(limits.cpus)) : svc.cpus !== undefined ? nanoCpus(String(svc.cpus)) : 0,
      PidsLimit: (limits.pids as number | undefined) ?? (svc.pids_limit as number | undefined) ?? null,
      Sysctls: svc.sysctls ?? undefined, ShmSize: svc.shm_size !== undefined ? mem(svc.shm_size) : undefined,
    },
    NetworkingConfig: nets.length && !svc.network_mode ? { EndpointsConfig: { [nets[0][0]]: nets[0][1] } } : { EndpointsConfig: {} },
  };
}
