/**
 * A container's cgroup files: `/berth/<id>` under each v1 hierarchy, or the one directory of the unified tree on v2.
 * berthd reads counters here (stats, OOM kills) and writes limits for `update`; crun created the groups.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupsPathFor, detectCgroupMode } from './cgroups';

const ROOT = '/sys/fs/cgroup';
const CGROUP_MAGIC = [0x27e0eb, 0x63677270]; // cgroup (v1), cgroup2

/** rmdir a cgroup (fails while it has processes); a plain directory crun made on a tmpfs goes with its files. */
export function removeCgroupDir(dir: string): void {
  if (CGROUP_MAGIC.includes(fs.statfsSync(dir).type)) fs.rmdirSync(dir);
  else fs.rmSync(dir, { recursive: true, force: true });
}

export class ContainerCgroup {
  readonly v2: boolean;

  constructor(readonly id: string, private readonly root = ROOT) {
    this.v2 = detectCgroupMode(root) === 'v2';
  }

  /** The directory of `controller` (ignored on v2). */
  dir(controller: string): string {
    const rel = cgroupsPathFor(this.id);
    return this.v2 ? path.join(this.root, rel) : path.join(this.root, controller, rel);
  }

  /** The group's directories that exist now, one per mounted v1 hierarchy (symlinked co-mounts once) or the v2 one. */
  existingDirs(): string[] {
    const rel = cgroupsPathFor(this.id);
    const roots = this.v2 ? [this.root] : fs.readdirSync(this.root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(this.root, e.name));
    return roots.map((r) => path.join(r, rel)).filter((d) => fs.existsSync(d));
  }

  /**
   * After the runtime deleted the container: remove what is left. On hybrid hosts crun also makes `unified/berth/<id>`
   * on the /sys/fs/cgroup tmpfs (the cgroup2 mount is hidden in berthd's namespace) and never removes it.
   */
  removeLeftovers(): void {
    for (const d of this.existingDirs()) {
      try {
        removeCgroupDir(d);
      } catch {
        // still busy (a process not yet reaped): system check finds and removes it later
      }
    }
  }

  read(controller: string, file: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.dir(controller), file), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** A file holding one number; "max" (v2) reads as undefined, as does a missing file. */
  num(controller: string, file: string): number | undefined {
    const s = this.read(controller, file)?.trim();
    if (s === undefined || s === '' || s === 'max') return undefined;
    const n = Number(s);
    return Number.isFinite(n) ? n : undefined;
  }

  /** "key value" lines (memory.stat, cpu.stat, memory.events) as a map. */
  keyed(controller: string, file: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const line of (this.read(controller, file) ?? '').split('\n')) {
      const [k, v] = line.trim().split(/\s+/);
      if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
    }
    return out;
  }

  write(controller: string, file: string, value: string | number): void {
    fs.writeFileSync(path.join(this.dir(controller), file), String(value));
  }

  /** How many times the kernel's OOM killer killed a process of this container (0 when unknown). */
  oomKills(): number {
    return this.v2 ? (this.keyed('memory', 'memory.events').oom_kill ?? 0) : (this.keyed('memory', 'memory.oom_control').oom_kill ?? 0);
  }
}
