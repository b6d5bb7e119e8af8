/**
 * Resource limits the daemon checks before a container starts (moby daemon/daemon_unix.go
 * verifyPlatformContainerResources), with docker's messages; what the kernel lacks becomes a warning and is dropped.
 * `hostFacts()` reads the machine once; `checkResources` is pure.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { HostConfig } from '../../schema/container';
import { badRequest } from '../../common/errors';
import { cgroupLimitRefusal } from '../../rootless/cgroups';

const MIN_MEMORY = 6 * 1024 * 1024;

export interface HostFacts {
  cpus: number;
  /** e.g. "0-1" */
  cpusetCpus: string;
  cpusetMems: string;
  blkioWeight: boolean;
  swapAccounting: boolean;
  /** Set when no limit can be applied at all (a rootless daemon without delegated cgroups): the reason. */
  limitsRefused?: string;
}

/** The resource fields of HostConfig (what `update` may change is a subset). */
export interface Resources {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  KernelMemory?: number;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  BlkioWeight?: number;
  PidsLimit?: number | null;
  OomScoreAdj?: number;
}

const readFirst = (files: string[], dflt: string): string => {
  for (const f of files) {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      // try the next
    }
  }
  return dflt;
};

let facts: HostFacts | undefined;
export function hostFacts(): HostFacts {
  const refusal = cgroupLimitRefusal();
  facts ??= {
    cpus: os.cpus().length,
    cpusetCpus: readFirst(['/sys/fs/cgroup/cpuset/cpuset.effective_cpus', '/sys/fs/cgroup/cpuset.cpus.effective', '/sys/devices/system/cpu/online'], '0'),
    cpusetMems: readFirst(['/sys/fs/cgroup/cpuset/cpuset.effective_mems', '/sys/fs/cgroup/cpuset.mems.effective', '/sys/devices/system/node/online'], '0'),
    blkioWeight: fs.existsSync('/sys/fs/cgroup/blkio/blkio.weight') || fs.existsSync('/sys/fs/cgroup/blkio/blkio.bfq.weight') || fs.existsSync('/sys/fs/cgroup/io.weight'),
    swapAccounting: fs.existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || fs.existsSync('/sys/fs/cgroup/memory.swap.max'),
    ...(refusal !== undefined ? { limitsRefused: refusal } : {}),
  };
  return facts;
}

/** "0-2,4" -> {0,1,2,4}; undefined when malformed (docker's parsers.ParseUintList). */
export function parseCpuList(s: string): Set<number> | undefined {
  const out = new Set<number>();
  if (s === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

function checkSet(kind: 'cpus' | 'mems', requested: string | undefined, available: string): void {
  if (!requested) return;
  const want = parseCpuList(requested);
  if (!want) throw badRequest(`Invalid value ${requested} for cpuset ${kind}`);
  const have = parseCpuList(available) ?? new Set<number>();
  if ([...want].every((c) => have.has(c))) return;
  const what = kind === 'cpus' ? 'CPUs' : 'memory nodes';
  throw badRequest(`Requested ${what} are not available - requested ${requested}, available: ${available}`);
}

/**
 * Refuse limits the kernel cannot honour; returns docker's warnings and `r` with unsupported fields cleared.
 * `update` passes the merged result of the old and new values.
 */
export function checkResources(r: Resources, host: HostFacts): string[] {
  if (host.limitsRefused) refuseLimits(r, host.limitsRefused);
  const warnings: string[] = [];
  const mem = r.Memory ?? 0;
  // dockerd: any non-zero value under 6 MB, negative ones too
  if (mem !== 0 && mem < MIN_MEMORY) throw badRequest('Minimum memory limit allowed is 6MB');
  const swap = r.MemorySwap ?? 0;
  if (swap > 0 && !host.swapAccounting) {
    warnings.push('Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.');
    r.MemorySwap = -1;
  }
  if (swap > 0 && mem === 0) throw badRequest('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap > 0 && swap < mem) throw badRequest('Minimum memoryswap limit should be larger than memory limit, see usage');
  const sw = r.MemorySwappiness;
  if (sw !== undefined && sw !== null && sw !== -1 && (sw < 0 || sw > 100)) {
    throw badRequest(`Invalid value: ${sw}, valid memory swappiness range is 0-100`);
  }
  const res = r.MemoryReservation ?? 0;
  if (res > 0 && res < MIN_MEMORY) throw badRequest('Minimum memory reservation allowed is 6MB');
  if (mem > 0 && res > 0 && mem < res) throw badRequest('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (r.KernelMemory) {
    warnings.push('Setting kernel memory limit is not supported; the limit is ignored.');
    r.KernelMemory = 0;
  }
  if (r.OomKillDisable && mem === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  const nano = r.NanoCpus ?? 0;
  if (nano > 0 && r.CpuPeriod) throw badRequest('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano > 0 && r.CpuQuota) throw badRequest('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > host.cpus * 1e9) {
    throw badRequest(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
  }
  if (r.CpuPeriod && (r.CpuPeriod < 1000 || r.CpuPeriod > 1_000_000)) {
    throw badRequest('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  if (r.CpuQuota && r.CpuQuota > 0 && r.CpuQuota < 1000) throw badRequest('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  if (r.CpuShares && r.CpuShares < 0) throw badRequest(`invalid CPU shares (${r.CpuShares}): value must be a positive integer`);
  checkSet('cpus', r.CpusetCpus, host.cpusetCpus);
  checkSet('mems', r.CpusetMems, host.cpusetMems);
  const w = r.BlkioWeight ?? 0;
  if (w > 0 && (w < 10 || w > 1000)) throw badRequest('Range of blkio weight is from 10 to 1000');
  if (w > 0 && !host.blkioWeight) {
    warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
    r.BlkioWeight = 0;
  }
  const adj = r.OomScoreAdj ?? 0;
  if (adj < -1000 || adj > 1000) throw badRequest(`Invalid value ${adj}, range for oom score adj is [-1000, 1000]`);
  return warnings;
}

/** The CLI flags behind the cgroup fields that are set, for the refusal (`--memory`, `--cpus`, ...). */
const LIMIT_FLAGS: [keyof Resources, string][] = [
  ['Memory', '--memory'], ['MemorySwap', '--memory-swap'], ['MemoryReservation', '--memory-reservation'], ['NanoCpus', '--cpus'],
  ['CpuShares', '--cpu-shares'], ['CpuPeriod', '--cpu-period'], ['CpuQuota', '--cpu-quota'], ['CpusetCpus', '--cpuset-cpus'],
  ['CpusetMems', '--cpuset-mems'], ['BlkioWeight', '--blkio-weight'], ['PidsLimit', '--pids-limit'],
];

function refuseLimits(r: Resources, reason: string): void {
  // -1 is "unlimited" for swap and pids: asking for no limit needs no cgroup
  const set = LIMIT_FLAGS.filter(([k]) => { const v = r[k]; return v !== undefined && v !== null && v !== 0 && v !== '' && v !== -1; }).map(([, f]) => f);
  if (set.length) throw badRequest(`${reason} (asked for ${set.join(', ')})`);
}

/** checkResources for a create body's HostConfig, then docker's default swap (twice the memory) made explicit. */
export function checkHostConfig(hc: HostConfig, host = hostFacts()): string[] {
  const r = hc as Resources;
  const warnings = checkResources(r, host);
  if ((r.Memory ?? 0) > 0 && !r.MemorySwap && host.swapAccounting) r.MemorySwap = (r.Memory as number) * 2;
  return warnings;
}
