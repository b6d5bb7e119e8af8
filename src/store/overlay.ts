/** Container root filesystems: overlayfs of the image's layer dirs (read-only lowers) and a per-container upper. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface OverlayPaths {
  upper: string;
  work: string;
  target: string;
}

/** Mount the overlay; `lowers` top layer first. An image without layers gets an empty lower dir. */
export async function mountOverlay(lowers: string[], p: OverlayPaths, emptyLower: string): Promise<void> {
  for (const d of [p.upper, p.work, p.target, emptyLower]) fs.mkdirSync(d, { recursive: true });
  const lowerdir = (lowers.length ? lowers : [emptyLower]).join(':');
  const opts = `lowerdir=${lowerdir},upperdir=${p.upper},workdir=${p.work}`;
  if (opts.length > 4000) throw new Error(`too many image layers to mount (${lowers.length})`);
  await run('mount', ['-t', 'overlay', 'overlay', '-o', opts, p.target]);
}

/** Unmount if mounted; a target that is not a mount point (e.g. after a daemon restart) is fine. */
export async function unmountOverlay(target: string): Promise<void> {
  if (!isMountPoint(target)) return;
  await run('umount', [target]).catch(async () => run('umount', ['-l', target]));
}

export function isMountPoint(target: string): boolean {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return mounts.split('\n').some((line) => line.split(' ')[4] === target);
}
