/**
 * Cgroup limits of a rootless daemon. An unprivileged user can only write cgroups systemd delegated to it on cgroup
 * v2; Berth does not drive systemd's delegation yet, so a rootless daemon runs crun with `--cgroup-manager=disabled`
 * and refuses every limit with the reason, rather than dropping it (docker's rootless mode on v1 drops them with a
 * warning).
 */
import { isRootless } from '../common/rootless';
import { detectCgroupMode } from '../runtime/cgroups';

/** Why limits cannot be applied, or undefined when they can (a rootful daemon). */
export function cgroupLimitRefusal(): string | undefined {
  if (!isRootless()) return undefined;
  const mode = detectCgroupMode();
  const host = mode === 'v2' ? 'cgroup v2' : `cgroup ${mode}`;
  return `rootless Berth cannot apply resource limits: that needs cgroup v2 with systemd delegation, and this host has ${host}` +
    (mode === 'v2' ? ' (delegated cgroups are not supported by Berth yet)' : '; boot with systemd.unified_cgroup_hierarchy=1 to get cgroup v2');
}
