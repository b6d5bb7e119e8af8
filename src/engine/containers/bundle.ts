/** Write a container's OCI bundle (config.json) and its /etc/hosts, /etc/hostname, /etc/resolv.conf at start. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError, badRequest } from '../../common/errors';
import { boundingCaps, containerCaps } from '../../spec/caps';
import { processEnv } from '../../spec/command';
import { containerDevice, type DeviceMapping } from '../../spec/devices';
import { defaultNofile, hostDevices, initBinary, major, minor } from '../../spec/host';
import type { OciDevice, OciDeviceRule } from '../../spec/oci';
import { containerSeccomp, DefaultSeccomp } from '../../spec/seccomp';
import { buildSpec, type SpecMount } from '../../spec/spec';
import { resolveUser, type ResolvedUser } from '../../spec/user';
import { readInRoot, withRootDir } from '../../common/rootpath';
import { fchownat } from '../../native';
import type { VolumeService } from '../volumes';
import type { UsernsRemap } from '../userns';
import type { ContainerNet } from './network';
import type { CreateHost } from './normalize';
import type { ContainerPaths, ContainerRecord } from './record';
import { isRootless, maxMappedGid } from '../../common/rootless';

/** Host facts read once per daemon: they do not change while it runs. */
const host = {
  caps: boundingCaps(),
  nofile: defaultNofile(),
  initPath: initBinary(),
};

/** berthd `--seccomp-profile`: the default profile's file instead of the ones scripts/setup.sh installs. */
let seccompProfilePaths: readonly string[] | undefined;
export function setSeccompProfile(file: string): void {
  seccompProfilePaths = [file];
  defaultSeccomp = undefined;
}

let defaultSeccomp: DefaultSeccomp | Error | undefined;
/**
 * The daemon's default profile, loaded on first use. Fails closed: without it a confined container does not start
 * (only `--security-opt seccomp=unconfined` and `--privileged`, which need no profile, still do).
 */
function seccompDefaults(): DefaultSeccomp {
  if (defaultSeccomp === undefined) {
    try {
      defaultSeccomp = new DefaultSeccomp(seccompProfilePaths);
    } catch (e) {
      const missing = seccompProfilePaths?.length === 1 && !fs.existsSync(seccompProfilePaths[0]);
      const why = missing ? `opening seccomp profile (${seccompProfilePaths?.[0]}) failed: open ${seccompProfilePaths?.[0]}: no such file or directory` : (e as Error).message;
      defaultSeccomp = new Error(`Error loading seccomp profile: ${why}`);
    }
  }
  if (defaultSeccomp instanceof Error) throw new ApiError(500, defaultSeccomp.message);
  return defaultSeccomp;
}

/** What the checks of a create request need of this host (normalize.ts). */
export const createHost: CreateHost = { exists: fs.existsSync, caps: host.caps };

/** docker refuses at create a `--device` that is not a device node on this host. */
export function checkDevices(hc: ContainerRecord['HostConfig']): void {
  userDevices(hc, []);
}

/** `--device` nodes (numbers and mode read from the host) and the cgroup rules allowing them, then `rules` (`--device-cgroup-rule`s). */
function userDevices(hc: ContainerRecord['HostConfig'], rules: readonly OciDeviceRule[]): { devices: OciDevice[]; deviceRules: OciDeviceRule[] } {
  const devices: OciDevice[] = [];
  const deviceRules: OciDeviceRule[] = [];
  for (const d of (hc.Devices ?? []) as DeviceMapping[]) {
    const fail = (why: string) => badRequest(`error gathering device information while adding custom device "${d.PathOnHost}": ${why}`);
    let st: fs.Stats;
    try {
      st = fs.statSync(d.PathOnHost);
    } catch (e) {
      throw fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw fail('not a device node');
    const node = { char: st.isCharacterDevice(), major: major(st.rdev), minor: minor(st.rdev), mode: st.mode };
    const { device, rule } = containerDevice({ ...d, PathInContainer: d.PathInContainer || d.PathOnHost }, node);
    devices.push(device);
    deviceRules.push(rule);
  }
  return { devices, deviceRules: [...deviceRules, ...rules] };
}

/** Binds, tmpfs and volumes (made, mounted and filled on first use by the volume service). */
function userMounts(rec: ContainerRecord, vs: VolumeService): SpecMount[] {
  return vs.mountsOf(rec).map((m): SpecMount => {
    if (m.kind === 'tmpfs') return { kind: 'tmpfs', target: m.target, options: m.options };
    if (m.kind === 'volume') return { kind: 'bind', source: vs.attach(rec, m), target: m.target, readOnly: m.readOnly };
    // docker makes a missing -v source a directory; an existing file is bound as it is
    if (m.createSource && !fs.lstatSync(m.source, { throwIfNoEntry: false })) fs.mkdirSync(m.source, { recursive: true });
    return { kind: 'bind', source: m.source, target: m.target, readOnly: m.readOnly, propagation: m.propagation };
  });
}

/** A docker `User` resolved against the passwd and group files inside `root` (never the host's), 400 when unknown. */
export function containerUser(root: string, user: string, groupAdd: string[] = []): ResolvedUser {
  try {
    return resolveUser(user, readInRoot(root, 'etc/passwd'), readInRoot(root, 'etc/group'), groupAdd);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

/**
 * Docker creates a missing working directory inside the container root (symlinks and ".." resolved there, never on
 * the host), each new directory owned by the container's user.
 */
function makeWorkingDir(rootfs: string, cwd: string, owner: { uid: number; gid: number }): void {
  try {
    fs.closeSync(withRootDir(rootfs, (r) => r.mkdirAll(cwd, 0o755, (dirfd, name) => fchownat(dirfd, name, owner.uid, owner.gid))));
  } catch (e) {
    throw badRequest(`cannot create working directory ${cwd}: ${(e as Error).message}`);
  }
}

/**
 * crun compiles the seccomp profile to BPF on every start (~10 ms); it also accepts the compiled program in the
 * `run.oci.seccomp_bpf_data` annotation. The first container with a given profile leaves its program in crun's state
 * dir; later ones reuse it. Keyed by the profile's JSON, so a different profile or capability set never shares one.
 */
const compiledSeccomp = new Map<string, string>();

export function rememberCompiledSeccomp(key: string, bpf: Buffer | undefined): void {
  if (bpf && !compiledSeccomp.has(key)) compiledSeccomp.set(key, bpf.toString('base64'));
}

/**
 * Write the etc files and config.json; `net` says which network namespace and what /etc/hosts etc. contain.
 * Returns the seccomp cache key when the runtime still has to compile the profile (see rememberCompiledSeccomp).
 */
export function writeBundle(
  rec: ContainerRecord, p: ContainerPaths, net: ContainerNet, volumes: VolumeService, userns?: UsernsRemap,
): string | undefined {
  const hc = rec.HostConfig;
  const r = rec.Spec.resources;
  const hostname = net.hostname;
  fs.writeFileSync(p.hosts, net.hosts);
  fs.writeFileSync(p.hostname, hostname + '\n');
  fs.writeFileSync(p.resolvConf, net.resolvConf);
  userns?.own(p.hosts, p.hostname, p.resolvConf);
  const user = containerUser(p.rootfs, rec.Config.User ?? '', hc.GroupAdd ?? []);
  const cwd = rec.Config.WorkingDir || '/';
  makeWorkingDir(p.rootfs, cwd, userns ? userns.hostIds(user.uid, user.gid) : user);
  const etc: SpecMount[] = [
    { kind: 'bind', source: p.hosts, target: '/etc/hosts', readOnly: false },
    { kind: 'bind', source: p.hostname, target: '/etc/hostname', readOnly: false },
    { kind: 'bind', source: p.resolvConf, target: '/etc/resolv.conf', readOnly: false },
  ];
  const mounts = [...etc, ...userMounts(rec, volumes)];
  const sec = rec.Spec.security;
  const caps = containerCaps({ capAdd: hc.CapAdd, capDrop: hc.CapDrop, privileged: hc.Privileged, available: host.caps });
  const confined = sec.seccomp !== 'unconfined' && !hc.Privileged;
  const seccomp = confined ? containerSeccomp(sec.seccomp, { privileged: false, caps, defaults: seccompDefaults() }) : undefined;
  const spec = buildSpec({
    args: [rec.Path, ...rec.Args],
    env: processEnv([...net.linkEnv, ...(rec.Config.Env ?? [])], hostname, rec.Config.Tty),
    cwd,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    terminal: rec.Config.Tty,
    consoleSize: hc.ConsoleSize,
    hostname,
    domainname: rec.Config.Domainname,
    rootfs: p.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs,
    mounts,
    network: net.ns,
    privileged: hc.Privileged,
    capAdd: hc.CapAdd,
    capDrop: hc.CapDrop,
    availableCaps: host.caps,
    hostDevices: hc.Privileged ? hostDevices() : undefined,
    ...userDevices(hc, rec.Spec.deviceRules),
    cgroupsPath: `/berth/${rec.Id}`,
    ...(isRootless() ? { maxGid: maxMappedGid() } : {}),
    resources: {
      memory: r.Memory,
      memorySwap: r.MemorySwap,
      memoryReservation: r.MemoryReservation,
      cpuShares: r.CpuShares,
      nanoCpus: r.NanoCpus,
      cpuQuota: r.CpuQuota,
      cpuPeriod: r.CpuPeriod,
      pidsLimit: r.PidsLimit,
      memorySwappiness: r.MemorySwappiness,
      oomKillDisable: r.OomKillDisable,
      cpusetCpus: r.CpusetCpus,
      cpusetMems: r.CpusetMems,
      blkioWeight: r.BlkioWeight,
    },
    oomScoreAdj: r.OomScoreAdj,
    sysctls: hc.Sysctls,
    shmSize: hc.ShmSize,
    ulimits: hc.Ulimits,
    nofile: host.nofile,
    initPath: hc.Init ? requireInit() : undefined,
    seccomp,
    noNewPrivileges: sec.noNewPrivileges,
    userns: userns?.maps,
  });
  const seccompKey = seccomp && rec.Runtime === 'crun' ? createHash('sha256').update(JSON.stringify(seccomp)).digest('hex') : undefined;
  const bpf = seccompKey && compiledSeccomp.get(seccompKey);
  const annotated = bpf ? { ...spec, annotations: { 'run.oci.seccomp_bpf_data': bpf } } : spec;
  fs.mkdirSync(p.bundle, { recursive: true });
  fs.writeFileSync(path.join(p.bundle, 'config.json'), JSON.stringify(annotated));
  return bpf ? undefined : seccompKey;
}

function requireInit(): string {
  if (!host.initPath) throw badRequest('--init: no init binary found (install Debian package tini)');
  return host.initPath;
}
