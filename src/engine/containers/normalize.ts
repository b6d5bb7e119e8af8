/**
 * A create request validated once into the typed spec the engine works from (podman's specgen): the value checks
 * dockerd makes at create (daemon/container.go verifyContainerSettings, the volume/mounts parser, runconfig), each a
 * 400 with docker's words. Pure: host facts come in `CreateHost`. The service checks what needs Berth's state (the
 * image, networks, --volumes-from and linked containers, volumes, device nodes) and the machine (limits.ts). A few
 * checks are stricter than dockerd (DNS servers, extra hosts, sysctl and ulimit names are refused here where dockerd
 * fails only at start).
 */
import * as net from 'node:net';
import { badRequest } from '../../common/errors';
import { log } from '../../common/log';
import { portRange, splitPortProto, type PortBindingSpec, type PortSpec, type PublishSpec } from '../../common/ports';
import { parseSignal } from '../../common/signals';
import type { HostEntry } from '../../network/dnsfiles';
import { parsePortKey } from '../../network/ports';
import type { CreateBody, HostConfig } from '../../schema/container';
import { containerCaps } from '../../spec/caps';
import { parseDeviceCgroupRule } from '../../spec/devices';
import { cleanPath, userMounts, type UserMount } from '../../spec/mounts';
import type { OciDeviceRule } from '../../spec/oci';
import { parseSecurityOpt, type SecurityOptions } from '../../spec/seccomp';
import { parseVolumesFrom } from '../volume-mounts';
import type { HealthConfig } from './health';
import type { Resources } from './limits';
import { logPolicy, type LogPolicy } from './log-rotate';
import { validateRestartPolicy, type RestartPolicy } from './restart';

/** `--network`: none, host, another container's namespace, or a Berth network (by name or id). */
export type NetworkMode = { kind: 'none' } | { kind: 'host' } | { kind: 'container'; ref: string } | { kind: 'network'; name: string };

/** What start, inspect, ps, volumes and networking read of a container's options: never a Docker string again. */
export interface ContainerSpec {
  /** Binds, Mounts and Tmpfs in docker's precedence, each as inspect shows it. */
  mounts: UserMount[];
  volumesFrom: { ref: string; readOnly: boolean }[];
  /** Targets of the config's VOLUMEs (the image's and the body's): anonymous volumes where nothing else mounts. */
  volumes: string[];
  network: NetworkMode;
  ports: PublishSpec;
  /** `--add-host`s. */
  extraHosts: HostEntry[];
  security: SecurityOptions;
  /** `--device-cgroup-rule`s. */
  deviceRules: OciDeviceRule[];
  restart: RestartPolicy;
  log: LogPolicy;
  healthcheck?: HealthConfig;
  resources: Resources;
}

/** Host facts the checks need, injected to keep them pure. */
export interface CreateHost {
  /** Does a `--mount type=bind` source exist? */
  exists(path: string): boolean;
  /** The daemon's bounding capabilities (what `--cap-add` may name). */
  caps: readonly string[];
}

const MIN_HEALTH_DURATION_NS = 1_000_000;
// go-units' ulimit names (ParseUlimit)
const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);
const RESOURCE_KEYS: readonly (keyof Resources)[] = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'MemorySwappiness', 'KernelMemory', 'OomKillDisable', 'NanoCpus', 'CpuShares',
  'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'BlkioWeight', 'PidsLimit', 'OomScoreAdj',
];

/** `--network` as given (`default` and empty are the default bridge). */
function parseMode(mode: string | undefined): NetworkMode {
  if (!mode || mode === 'default') return { kind: 'network', name: 'bridge' };
  if (mode === 'none' || mode === 'host') return { kind: mode };
  if (mode.startsWith('container:')) return { kind: 'container', ref: mode.slice('container:'.length) };
  return { kind: 'network', name: mode };
}

/** The resource fields of a HostConfig, as the OCI spec and `update` use them. */
export function resourcesOf(hc: HostConfig): Resources {
  const out: Record<string, unknown> = {};
  for (const k of RESOURCE_KEYS) if (hc[k] !== undefined) out[k] = hc[k];
  return out as Resources;
}

/** The restart policy with docker's defaults filled in (no name: `no`, as docker reads an empty one). */
export const restartPolicyOf = (hc: HostConfig): Required<RestartPolicy> =>
  ({ Name: hc.RestartPolicy?.Name ?? '', MaximumRetryCount: hc.RestartPolicy?.MaximumRetryCount ?? 0 });

const asBadRequest = <T>(f: () => T): T => {
  try {
    return f();
  } catch (e) {
    throw badRequest((e as Error).message);
  }
};

/**
 * Check a create body and type it. The body is the client's (the image's config is not merged in yet): its own
 * VOLUMEs, exposed ports and health check are in the spec until `withImageConfig` gives the merged ones.
 */
export function normalizeCreate(body: CreateBody, host: CreateHost): ContainerSpec {
  const hc = body.HostConfig ?? {};
  checkConfig(body);
  checkHostValues(hc);
  asBadRequest(() => containerCaps({ capAdd: hc.CapAdd, capDrop: hc.CapDrop, privileged: hc.Privileged, available: host.caps }));
  validateRestartPolicy(hc.RestartPolicy, !!hc.AutoRemove);
  return typedSpec(body, host.exists);
}

/** Reads one part of a body: `fallback` is what a stored record gets when the part no longer reads. */
type Reader = <T>(part: string, f: () => T, fallback: T) => T;
const strictly: Reader = (_part, f) => asBadRequest(f);

/** The typed parts of a body; `read` refuses what cannot be read (at create, in docker's words). */
function typedSpec(body: CreateBody, exists: CreateHost['exists'], read: Reader = strictly): ContainerSpec {
  const hc = body.HostConfig ?? {};
  return {
    mounts: read('mounts', () => userMounts(hc, exists), []),
    volumesFrom: read('volumes-from', () => ((hc.VolumesFrom ?? []) as string[]).map(parseVolumesFrom), []),
    volumes: volumeTargets(body.Volumes),
    network: parseMode(hc.NetworkMode),
    ports: read('ports', () => publishSpec(body.ExposedPorts, hc), { bindings: [], exposed: [], publishAll: !!hc.PublishAllPorts }),
    extraHosts: read('extra hosts', () => extraHostsOf(hc), []),
    security: read('security options', () => parseSecurityOpt(hc.SecurityOpt), { seccomp: 'default', noNewPrivileges: false }),
    deviceRules: read('device cgroup rules', () => ((hc.DeviceCgroupRules ?? []) as string[]).map(parseDeviceCgroupRule), []),
    restart: restartPolicyOf(hc),
    log: read('log options', () => logPolicy(hc.LogConfig), { enabled: true, maxFile: 1 }),
    ...(body.Healthcheck ? { healthcheck: body.Healthcheck } : {}),
    resources: resourcesOf(hc),
  };
}

/**
 * The spec of a record written before records kept one: its stored HostConfig and merged Config, read as at its
 * create (a `--mount` bind source is not looked for again). A part that no longer reads (a seccomp profile file gone
 * since: the default profile, still confined; a port an older Berth let through) is left at its default, with a
 * warning, rather than keeping berthd from starting.
 */
export function recordedSpec(hc: HostConfig, config: Pick<CreateBody, 'Volumes' | 'ExposedPorts' | 'Healthcheck'>): ContainerSpec {
  return withImageConfig(typedSpec({ HostConfig: hc }, () => true, leniently), config);
}

/** A stored record's spec: derived (recordedSpec) when it has none; a part added since (extra hosts) read from its HostConfig. */
export function storedSpec(spec: ContainerSpec | undefined, hc: HostConfig, config: Pick<CreateBody, 'Volumes' | 'ExposedPorts' | 'Healthcheck'>): ContainerSpec {
  if (!spec) return recordedSpec(hc, config);
  return spec.extraHosts ? spec : { ...spec, extraHosts: leniently('extra hosts', () => extraHostsOf(hc), []) };
}

const leniently: Reader = (part, f, fallback) => {
  try {
    return f();
  } catch (e) {
    log.warn(`container record: its ${part} no longer read, left at the default`, { e: String(e) });
    return fallback;
  }
};

/**
 * The spec with the merged config's (image + body) VOLUMEs, exposed ports and health check. The body's ports were
 * checked; an image's port that does not read is left out, as no client asked for it.
 */
export function withImageConfig(spec: ContainerSpec, merged: Pick<CreateBody, 'Volumes' | 'ExposedPorts' | 'Healthcheck'>): ContainerSpec {
  const { healthcheck: _body, ...rest } = spec;
  const exposed = Object.keys(merged.ExposedPorts ?? {}).flatMap((k) => {
    try {
      return [parsePortKey(k)];
    } catch {
      return [];
    }
  });
  return {
    ...rest,
    volumes: volumeTargets(merged.Volumes),
    ports: { ...spec.ports, exposed },
    ...(merged.Healthcheck ? { healthcheck: merged.Healthcheck } : {}),
  };
}

const volumeTargets = (volumes: Record<string, object> | undefined): string[] => Object.keys(volumes ?? {}).map(cleanPath);

/** The container Config's values (working dir, stop signal, health check timings). */
function checkConfig(cfg: CreateBody): void {
  if (cfg.WorkingDir && !cfg.WorkingDir.startsWith('/')) {
    throw badRequest(`the working directory '${cfg.WorkingDir}' is invalid, it needs to be an absolute path`);
  }
  if (cfg.StopSignal) parseSignal(cfg.StopSignal);
  const hcheck = cfg.Healthcheck as (CreateBody['Healthcheck'] & { StartInterval?: number }) | undefined;
  if (hcheck) {
    for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
      const v = hcheck[f];
      if (v && v < MIN_HEALTH_DURATION_NS) throw badRequest(`${f} in Healthcheck cannot be less than 1ms`);
    }
    if ((hcheck.Retries ?? 0) < 0) throw badRequest('Retries in Healthcheck cannot be negative');
  }
}

/** HostConfig values checked as such: shm size, DNS servers, sysctl and ulimit names. */
function checkHostValues(hc: HostConfig): void {
  if ((hc.ShmSize ?? 0) < 0) throw badRequest('SHM size can not be less than 0');
  for (const d of hc.Dns ?? []) if (!net.isIP(d)) throw badRequest(`invalid IP address in Dns: "${d}"`);
  for (const k of Object.keys(hc.Sysctls ?? {})) {
    if (!/^[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*$/.test(k)) throw badRequest(`invalid sysctl name: "${k}"`);
  }
  for (const u of hc.Ulimits ?? []) if (!ULIMITS.has(u.Name ?? '')) throw badRequest(`invalid ulimit type: ${u.Name}`);
}

/** `--add-host` "name:ip" or "name=ip" (ip may be [v6] or host-gateway). */
function extraHostsOf(hc: HostConfig): HostEntry[] {
  return (hc.ExtraHosts ?? []).map((h) => {
    const sep = h.search(/[:=]/);
    const ip = sep > 0 ? h.slice(sep + 1).replace(/^\[(.*)\]$/, '$1') : '';
    if (!ip || (ip !== 'host-gateway' && !net.isIP(ip))) throw badRequest(`bad format for add-host: "${h}"`);
    return { names: h.slice(0, sep), ip };
  });
}

/** docker's check of a port spec ("invalid port specification"), then the network layer's reading of it. */
function portKey(key: string): PortSpec {
  const { ports } = splitPortProto(key);
  if (!portRange(ports)) throw badRequest(`invalid port specification: "${ports}"`);
  return parsePortKey(key);
}

/** ExposedPorts and PortBindings (`-p`, `-P`) typed: each binding's host IP and host port range checked. */
function publishSpec(exposed: CreateBody['ExposedPorts'], hc: HostConfig): PublishSpec {
  const exposedPorts = Object.keys(exposed ?? {}).map(portKey);
  const bindings: PortBindingSpec[] = [];
  for (const [key, list] of Object.entries(hc.PortBindings ?? {})) {
    const container = portKey(key);
    // a port listed without bindings is published on a port the host picks
    for (const b of list ?? [{}]) {
      if (b.HostPort && !portRange(b.HostPort)) throw badRequest(`invalid port specification: "${b.HostPort}"`);
      const hostIp = b.HostIp ?? '';
      if (hostIp && !net.isIP(hostIp.replace(/^\[(.*)\]$/, '$1'))) throw badRequest(`invalid host IP address: ${hostIp}`);
      const hostPort = b.HostPort ? portRange(b.HostPort, 1) : undefined;
      if (b.HostPort && !hostPort) throw badRequest(`invalid hostPort: ${b.HostPort}`);
      bindings.push({ container, hostIp, ...(hostPort ? { host: hostPort } : {}) });
    }
  }
  return { bindings, exposed: exposedPorts, publishAll: !!hc.PublishAllPorts };
}
