/**
 * buildSpec: the OCI runtime config.json of a container, with docker's defaults (moby daemon/pkg/oci/defaults.go and
 * daemon/oci_linux.go): capabilities, mounts, masked/read-only paths, device rules, namespaces, default sysctls.
 * Pure: host facts (available capabilities, host devices, NOFILE limit) come in through the input.
 */
import { containerCaps } from './caps';
import { cleanPath, type Propagation } from './mounts';
import type { OciDevice, OciDeviceRule, OciIdMapping, OciMount, OciNamespace, OciResources, OciSpec, OciUser } from './oci';

export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

/** A mount ready for the spec: named volumes are already resolved to a host directory by the caller. */
export type SpecMount =
  | { kind: 'bind'; source: string; target: string; readOnly: boolean; propagation?: Propagation }
  | { kind: 'tmpfs'; target: string; options: string[] };

export type NetworkNs = { mode: 'host' } | { mode: 'none' } | { mode: 'path'; path: string };

export interface SpecInput {
  args: string[];
  env: string[];
  /** Empty means `/`. */
  cwd: string;
  user: OciUser;
  terminal: boolean;
  /** [rows, cols] from HostConfig.ConsoleSize; used only with a terminal and when non-zero. */
  consoleSize?: [number, number] | null;
  hostname: string;
  domainname?: string;
  rootfs: string;
  readonlyRootfs?: boolean;
  /** User mounts (binds, volumes, tmpfs) plus the /etc/hosts, /etc/hostname, /etc/resolv.conf binds. */
  mounts: SpecMount[];
  /** 'none' = a fresh empty netns, 'host' = the host's, 'path' = join a netns prepared by the network service. */
  network: NetworkNs;
  privileged?: boolean;
  capAdd?: string[] | null;
  capDrop?: string[] | null;
  /** Capabilities this process can grant (its bounding set): what --privileged and `--cap-add ALL` mean here. */
  availableCaps: readonly string[];
  /** Host device nodes, needed only for --privileged. */
  hostDevices?: OciDevice[];
  /** `--device` nodes (spec/devices.containerDevice) and the cgroup rules allowing them plus `--device-cgroup-rule`s. */
  devices?: OciDevice[];
  deviceRules?: OciDeviceRule[];
  /** `/berth/<id>` for the cgroupfs manager. */
  cgroupsPath?: string;
  /** A private cgroup namespace (docker's default on cgroup v2 hosts; v1 hosts share the host's). */
  cgroupNamespace?: boolean;
  resources?: {
    memory?: number;
    memorySwap?: number;
    memoryReservation?: number;
    cpuShares?: number;
    nanoCpus?: number;
    cpuQuota?: number;
    cpuPeriod?: number;
    pidsLimit?: number | null;
    /** -1 or unset: the kernel's default. */
    memorySwappiness?: number | null;
    oomKillDisable?: boolean | null;
    cpusetCpus?: string;
    cpusetMems?: string;
    blkioWeight?: number;
  };
  sysctls?: Record<string, string> | null;
  shmSize?: number;
  ulimits?: { Name: string; Soft: number; Hard: number }[] | null;
  /** Default RLIMIT_NOFILE (see host.ts defaultNofile). */
  nofile: { soft: number; hard: number };
  oomScoreAdj?: number;
  /** Host path of an init binary (tini) for `--init`: mounted at /sbin/docker-init and put in front of args. */
  initPath?: string;
  /** linux.seccomp (seccomp.ts containerSeccomp); absent for `seccomp=unconfined`, ignored for --privileged (docker). */
  seccomp?: object;
  /** --security-opt no-new-privileges */
  noNewPrivileges?: boolean;
  /** A user namespace with these mappings (the daemon's --userns-remap). */
  userns?: { uidMappings: OciIdMapping[]; gidMappings: OciIdMapping[] };
  /** The highest gid the daemon's own user namespace maps (a rootless daemon): the end of the ping range. */
  maxGid?: number;
}

const INIT_PATH = '/sbin/docker-init';

export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap',
  '/sys/firmware',
];
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function defaultMounts(shmSize: number): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSize}`] },
  ];
}

/** Deny all, then allow null, zero, urandom, random, tty, console (ptmx via devpts); fuse (10:229) stays denied. */
function defaultDeviceRules(): OciDeviceRule[] {
  const allow = (major: number, minor: number): OciDeviceRule => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), allow(1, 3), allow(1, 9), allow(1, 8), allow(5, 0), allow(5, 1),
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}

const depth = (p: string): number => cleanPath(p).split('/').length;

function userMount(m: SpecMount): OciMount {
  if (m.kind === 'tmpfs') return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: m.options };
  const options = ['rbind'];
  if (m.readOnly) options.push('ro');
  options.push(m.propagation ?? 'rprivate');
  return { destination: m.target, type: 'bind', source: m.source, options };
}

function mounts(input: SpecInput): OciMount[] {
  const targets = new Set(input.mounts.map((m) => cleanPath(m.target)));
  const userDev = targets.has('/dev');
  const defaults = defaultMounts(input.shmSize || DEFAULT_SHM_SIZE).filter(
    (m) => !targets.has(m.destination) && !(userDev && m.destination.startsWith('/dev/')),
  );
  if (input.initPath) defaults.push({ destination: INIT_PATH, type: 'bind', source: input.initPath, options: ['bind', 'ro'] });
  for (const m of defaults) {
    if (input.readonlyRootfs && !['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination) && !m.options?.includes('ro')) {
      m.options = [...(m.options ?? []), 'ro'];
    }
    // --privileged gets a writable /sys and cgroup tree.
    if (input.privileged && (m.destination === '/sys' || m.type === 'cgroup')) m.options = m.options?.filter((o) => o !== 'ro');
  }
  // Parents before children: sort by path depth, keeping the caller's order otherwise (Array.sort is stable).
  const user = [...input.mounts].sort((a, b) => depth(a.target) - depth(b.target)).map(userMount);
  return [...defaults, ...user];
}

function namespaces(input: SpecInput): OciNamespace[] {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  if (input.network.mode === 'none') ns.push({ type: 'network' });
  else if (input.network.mode === 'path') ns.push({ type: 'network', path: input.network.path });
  ns.push({ type: 'uts' }, { type: 'pid' }, { type: 'ipc' });
  if (input.cgroupNamespace) ns.push({ type: 'cgroup' });
  if (input.userns) ns.push({ type: 'user' });
  return ns;
}

function resources(input: SpecInput): OciResources {
  const r = input.resources ?? {};
  const out: OciResources = {
    devices: input.privileged ? [{ allow: true, access: 'rwm' }] : [...defaultDeviceRules(), ...(input.deviceRules ?? [])],
  };
  if (r.memory || r.memoryReservation || r.oomKillDisable || (r.memorySwappiness ?? -1) >= 0) {
    out.memory = {};
    if (r.oomKillDisable) out.memory.disableOOMKiller = true;
    if (r.memorySwappiness !== undefined && r.memorySwappiness !== null && r.memorySwappiness >= 0) out.memory.swappiness = r.memorySwappiness;
    if (r.memory && r.memory > 0) {
      out.memory.limit = r.memory;
      // docker: MemorySwap 0 means "twice the memory", -1 means unlimited.
      const swap = r.memorySwap ?? 0;
      if (swap !== -1) out.memory.swap = swap > 0 ? swap : r.memory * 2;
    }
    if (r.memoryReservation && r.memoryReservation > 0) out.memory.reservation = r.memoryReservation;
  }
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares) {
    if (r.cpuShares < 0) throw new Error(`invalid CPU shares (${r.cpuShares}): value must be a positive integer`);
    cpu.shares = r.cpuShares;
  }
  if (r.nanoCpus && r.nanoCpus > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((r.nanoCpus * 100000) / 1e9);
  }
  if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  if (r.cpuQuota) cpu.quota = r.cpuQuota;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (r.blkioWeight && r.blkioWeight > 0) out.blockIO = { weight: r.blkioWeight };
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  // 0 and -1 mean unlimited: leave pids unset (crun 1.8 rejects writing -1 to pids.max).
  if (r.pidsLimit && r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  return out;
}

export function buildSpec(input: SpecInput): OciSpec {
  if (input.privileged && !input.hostDevices) throw new Error('buildSpec: hostDevices is required for a privileged container');
  const caps = containerCaps({ capAdd: input.capAdd, capDrop: input.capDrop, privileged: input.privileged, available: input.availableCaps });
  const rlimits = new Map<string, { type: string; soft: number; hard: number }>([
    ['RLIMIT_NOFILE', { type: 'RLIMIT_NOFILE', soft: input.nofile.soft, hard: input.nofile.hard }],
  ]);
  for (const u of input.ulimits ?? []) {
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    rlimits.set(type, { type, soft: u.Soft, hard: u.Hard });
  }
  // Docker's safe default sysctls for a private network namespace; the user's win. Not from a user namespace (as
  // docker): its gids cannot express the ping range and it has no rights in a netns the host made (the daemon writes
  // those: UsernsRemap.netnsDefaults).
  const sysctl: Record<string, string> =
    input.network.mode === 'host' || input.userns ? {} : { 'net.ipv4.ping_group_range': `0 ${input.maxGid ?? 2147483647}`, 'net.ipv4.ip_unprivileged_port_start': '0' };
  Object.assign(sysctl, input.sysctls ?? {});

  const [rows, cols] = input.consoleSize ?? [0, 0];
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: input.terminal,
      ...(input.terminal && rows > 0 && cols > 0 ? { consoleSize: { height: rows, width: cols } } : {}),
      user: input.user,
      args: input.initPath ? [INIT_PATH, '--', ...input.args] : input.args,
      env: input.env,
      cwd: input.cwd || '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [...rlimits.values()],
      noNewPrivileges: input.noNewPrivileges === true,
      oomScoreAdj: input.oomScoreAdj ?? 0,
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs === true },
    hostname: input.hostname,
    ...(input.domainname ? { domainname: input.domainname } : {}),
    mounts: mounts(input),
    linux: {
      namespaces: namespaces(input),
      ...(input.userns ? { uidMappings: input.userns.uidMappings, gidMappings: input.userns.gidMappings } : {}),
      devices: input.privileged ? (input.hostDevices ?? []) : (input.devices ?? []),
      resources: resources(input),
      ...(input.cgroupsPath ? { cgroupsPath: input.cgroupsPath } : {}),
      sysctl,
      maskedPaths: input.privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: input.privileged ? [] : [...READONLY_PATHS],
      ...(input.seccomp && !input.privileged ? { seccomp: input.seccomp } : {}),
    },
  };
  return spec;
}
