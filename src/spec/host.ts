/** Facts about the host that a spec depends on: its device nodes (for --privileged) and this process's limits. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { OciDevice } from './oci';

/** Directories under /dev that are per-container mounts or runtime internals, never copied. */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

export const major = (rdev: number): number => Number((BigInt(rdev) >> 8n) & 0xfffn) | Number((BigInt(rdev) >> 32n) & ~0xfffn);
export const minor = (rdev: number): number => Number(BigInt(rdev) & 0xffn) | Number((BigInt(rdev) >> 12n) & ~0xffn);

/** Device nodes of the host, given to --privileged containers (like containerd's oci.HostDevices). */
export function hostDevices(dir = '/dev'): OciDevice[] {
  const out: OciDevice[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...hostDevices(p));
      continue;
    }
    if (p === '/dev/console' || !(entry.isCharacterDevice() || entry.isBlockDevice())) continue;
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue; // vanished while walking
    }
    out.push({
      type: entry.isCharacterDevice() ? 'c' : 'b',
      path: p,
      major: major(st.rdev),
      minor: minor(st.rdev),
      fileMode: st.mode & 0o777,
      uid: st.uid,
      gid: st.gid,
    });
  }
  return out;
}

/**
 * The RLIMIT_NOFILE a container gets by default: docker's containers see 1048576, but without CAP_SYS_RESOURCE a
 * hard limit cannot be raised above this process's own, so cap it there.
 */
export function defaultNofile(limits = fs.readFileSync('/proc/self/limits', 'utf8')): { soft: number; hard: number } {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const hard = !m || m[2] === 'unlimited' ? 1048576 : Math.min(Number(m[2]), 1048576);
  return { soft: hard, hard };
}

/** The init binary `--init` runs (Debian's tini), when installed. */
export function initBinary(): string | undefined {
  return ['/usr/bin/tini-static', '/usr/bin/tini'].find((p) => fs.existsSync(p));
}
