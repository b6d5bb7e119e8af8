/**
 * Host cgroup mode, Berth's cgroup parent, and the private mount namespace crun needs on hybrid hosts.
 *
 * crun refuses "hybrid" hosts (cgroup v1 hierarchies plus a cgroup2 mount at /sys/fs/cgroup/unified that owns a
 * controller, hugetlb here). Hiding that mount in a private mount namespace makes crun see plain v1; conmon and the
 * runtimes inherit the namespace from berthd, and slave propagation keeps later host mounts (overlays) visible.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

const CGROUP2_MAGIC = 0x63677270;
const UNIFIED = '/sys/fs/cgroup/unified';
/** Set in the re-executed process to the wrapper's pid: marks "already inside" and lets the child notice an orphaning. */
export const RUNTIME_NS_ENV = 'BERTH_RUNTIME_NS';

const isCgroup2 = (p: string): boolean => {
  try {
    return fs.statfsSync(p).type === CGROUP2_MAGIC;
  } catch {
    return false;
  }
};

export function detectCgroupMode(root = '/sys/fs/cgroup'): CgroupMode {
  if (isCgroup2(root)) return 'v2';
  return isCgroup2(`${root}/unified`) ? 'hybrid' : 'v1';
}

/** Docker's default on v2 is a private cgroup namespace; v1 hosts share the host's. */
export const wantsCgroupNamespace = (mode: CgroupMode): boolean => mode === 'v2';

/** cgroupsPath for the cgroupfs manager: every container under one Berth-owned parent. */
export const cgroupsPathFor = (id: string, parent = '/berth'): string => `${parent}/${id}`;

/** True when the unified mount is present and owns at least one controller (the case crun rejects). */
function unifiedHasControllers(): boolean {
  try {
    return fs.readFileSync(`${UNIFIED}/cgroup.controllers`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

/**
 * Call first thing at daemon start. Returns true when this process should go on (pure v1/v2 host, or already inside
 * the namespace). On a hybrid host whose unified mount has controllers, it re-runs this same program
 * (process.execPath + execArgv + argv) under `unshare -m --propagation slave` with /sys/fs/cgroup/unified lazily
 * unmounted, and returns false: this process then only relays signals and exits with the child's code (a signal
 * death is re-raised). stdio is inherited, so the child writes where the parent would have.
 */
export function enterRuntimeNamespace(): boolean {
  const marker = process.env[RUNTIME_NS_ENV];
  if (marker !== undefined) {
    watchWrapper(Number(marker));
    return true;
  }
  if (detectCgroupMode() !== 'hybrid' || !unifiedHasControllers()) return true;

  const script = `umount -l ${UNIFIED} && exec "$@"`;
  const child = spawn('unshare', ['-m', '--propagation', 'slave', 'sh', '-c', script, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [RUNTIME_NS_ENV]: String(process.pid) },
  });
  const relay = (sig: NodeJS.Signals): void => {
    child.kill(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(sig, relay);
  child.on('error', (e) => {
    process.stderr.write(`berth: cannot enter the runtime mount namespace: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  return false;
}

/** If the wrapper dies without relaying (SIGKILL), we get re-parented: stop too rather than run on unseen. */
export function watchWrapper(wrapperPid: number): void {
  if (!Number.isInteger(wrapperPid) || wrapperPid <= 0) return;
  const timer = setInterval(() => {
    if (parentPid() !== wrapperPid) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, 1000);
  timer.unref();
}

/** The live parent pid (Node's process.ppid is read once at start-up). */
function parentPid(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
