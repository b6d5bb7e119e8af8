/**
 * POST /containers/{id}/update: docker's UpdateConfig (resources + restart policy). Zero values mean "leave as is",
 * as in docker; the merged HostConfig is checked like a create, then written to the running container's cgroup.
 */
import type { HostConfig } from '../../schema/container';
import { badRequest } from '../../common/errors';
import { ContainerCgroup } from '../../runtime/cgroupfs';
import { checkHostConfig, type Resources } from './limits';
import { resourcesOf, restartPolicyOf } from './normalize';
import type { ContainerRecord } from './record';
import { validateRestartPolicy, type RestartPolicy } from './restart';

export interface UpdateBody extends Resources {
  RestartPolicy?: RestartPolicy;
}

const RESOURCE_KEYS: (keyof Resources)[] = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'KernelMemory', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
  'CpusetCpus', 'CpusetMems', 'BlkioWeight', 'PidsLimit',
];

/** The HostConfig after an update (pure); throws docker's errors for combinations it refuses. */
export function mergeUpdate(hc: HostConfig, body: UpdateBody, running: boolean): HostConfig {
  const out: HostConfig = { ...hc };
  const set = out as Record<string, unknown>;
  for (const k of RESOURCE_KEYS) {
    const v = body[k];
    if (v !== undefined && v !== null && v !== 0 && v !== '') set[k] = v;
  }
  if (body.NanoCpus) {
    set.CpuPeriod = 0;
    set.CpuQuota = 0;
  }
  if ((body.CpuPeriod || body.CpuQuota) && !body.NanoCpus) set.NanoCpus = 0;
  const oldSwap = Number(hc.MemorySwap ?? 0);
  if (body.Memory && !body.MemorySwap && oldSwap > 0 && body.Memory > oldSwap) {
    throw badRequest('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  if (body.KernelMemory && running) throw badRequest('Can not update kernel memory to a running container, please stop it first.');
  if (body.RestartPolicy?.Name) out.RestartPolicy = body.RestartPolicy;
  return out;
}

/** cgroup v2 weight from v1 shares (the runtimes' conversion). */
const sharesToWeight = (shares: number): number => 1 + Math.floor(((shares - 2) * 9999) / 262142);

/** Write the limits of `hc` to a running container's cgroup (v1 or v2). */
export function applyLimits(cg: ContainerCgroup, hc: HostConfig): void {
  const r = hc as Resources;
  const mem = r.Memory ?? 0;
  const swap = r.MemorySwap ?? 0;
  let quota = r.CpuQuota ?? 0;
  let period = r.CpuPeriod ?? 0;
  if (r.NanoCpus) {
    period = 100_000;
    quota = Math.floor((r.NanoCpus * period) / 1e9);
  }
  const pids = r.PidsLimit && r.PidsLimit > 0 ? String(r.PidsLimit) : 'max';
  if (cg.v2) {
    if (mem > 0) cg.write('memory', 'memory.max', mem);
    if (mem > 0 && swap !== 0) cg.write('memory', 'memory.swap.max', swap < 0 ? 'max' : Math.max(0, swap - mem));
    if (r.MemoryReservation) cg.write('memory', 'memory.low', r.MemoryReservation);
    if (r.CpuShares) cg.write('cpu', 'cpu.weight', sharesToWeight(r.CpuShares));
    if (quota || period) cg.write('cpu', 'cpu.max', `${quota > 0 ? quota : 'max'} ${period || 100_000}`);
    if (r.CpusetCpus) cg.write('cpuset', 'cpuset.cpus', r.CpusetCpus);
    if (r.CpusetMems) cg.write('cpuset', 'cpuset.mems', r.CpusetMems);
    cg.write('pids', 'pids.max', pids);
    return;
  }
  if (mem > 0) {
    const memsw = swap < 0 ? -1 : swap;
    const current = cg.num('memory', 'memory.memsw.limit_in_bytes');
    // the memory limit may never exceed memsw: raise memsw first when growing, lower it last when shrinking
    const growing = current !== undefined && (memsw === -1 || mem > current);
    if (growing && swap !== 0) cg.write('memory', 'memory.memsw.limit_in_bytes', memsw);
    cg.write('memory', 'memory.limit_in_bytes', mem);
    if (!growing && swap !== 0) cg.write('memory', 'memory.memsw.limit_in_bytes', memsw);
  }
  if (r.MemoryReservation) cg.write('memory', 'memory.soft_limit_in_bytes', r.MemoryReservation);
  if (r.CpuShares) cg.write('cpu', 'cpu.shares', r.CpuShares);
  if (period) cg.write('cpu', 'cpu.cfs_period_us', period);
  if (quota || period) cg.write('cpu', 'cpu.cfs_quota_us', quota > 0 ? quota : -1);
  if (r.CpusetCpus) cg.write('cpuset', 'cpuset.cpus', r.CpusetCpus);
  if (r.CpusetMems) cg.write('cpuset', 'cpuset.mems', r.CpusetMems);
  cg.write('pids', 'pids.max', pids);
}

/**
 * docker update of a record (saved by the caller): the merged HostConfig checked like a create and written to a
 * running container's cgroup; the spec's restart policy and resources follow. Returns docker's warnings.
 */
export function updateRecord(rec: ContainerRecord, body: UpdateBody): string[] {
  const hc = mergeUpdate(rec.HostConfig, body, !!rec.Instance);
  validateRestartPolicy(hc.RestartPolicy, !!hc.AutoRemove);
  const warnings = checkHostConfig(hc);
  if (rec.Instance) {
    try {
      applyLimits(new ContainerCgroup(rec.Id), hc);
    } catch (e) {
      throw badRequest(`Cannot update container ${rec.Id}: ${(e as Error).message}`);
    }
  }
  rec.HostConfig = hc;
  rec.Spec = { ...rec.Spec, restart: restartPolicyOf(hc), resources: resourcesOf(hc) };
  return warnings;
}
