/** Container root filesystems: overlayfs of the image's layer dirs (read-only lowers) and a per-container upper. */
import * as fs from 'node:fs';
import { mountOverlay as mountSyscall, umount } from '../native';
import { overlayMountOptions } from './whiteout';

export interface OverlayPaths {
  upper: string;
  work: string;
  target: string;
}

/** Mount the overlay; `lowers` top layer first. An image without layers gets an empty lower dir. */
export function mountOverlay(lowers: string[], p: OverlayPaths, emptyLower: string): void {
  for (const d of [p.upper, p.work, p.target, emptyLower]) fs.mkdirSync(d, { recursive: true });
  const lowerdir = (lowers.length ? lowers : [emptyLower]).join(':');
  const opts = `lowerdir=${lowerdir},upperdir=${p.upper},workdir=${p.work}${overlayMountOptions}`;
  // mount(2) takes one page of options: deep images need shorter lower paths (a later improvement).
  if (opts.length > 4000) throw new Error(`too many image layers to mount (${lowers.length})`);
  mountSyscall(p.target, opts);
}

/** Unmount if mounted; a target that is not a mount point (e.g. after a daemon restart) is fine. */
export function unmountOverlay(target: string): void {
  if (!isMountPoint(target)) return;
  try {
    umount(target);
  } catch {
    umount(target, true); // busy (a process still has a file open): detach lazily
  }
}

export function isMountPoint(target: string): boolean {
  return mountPoints().includes(target);
}

/** Mount points at or below `dir` in this mount namespace, parents before children. */
export function mountsUnder(dir: string): string[] {
  return mountPoints().filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Mount points of this mount namespace, or of process `pid`'s (mountinfo's field 5, its octal escapes undone). */
export function mountPoints(pid: number | 'self' = 'self'): string[] {
  const lines = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}
