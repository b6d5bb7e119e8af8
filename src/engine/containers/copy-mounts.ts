/**
 * A stopped container's volumes and bind mounts for `docker cp` (GET/PUT/HEAD archive): Docker mounts them over the
 * container's root for the operation (daemon/archive.go, mountVolumes), so paths below them reach the volume, not
 * the overlay. Each is bind-mounted (recursively, read-only when the mount is) at its destination, resolved inside
 * the root; parents before children, as the runtime would.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { log } from '../../common/log';
import { resolveInRoot } from '../../common/rootpath';
import { umount } from '../../native';
import type { DockerMountPoint } from '../volume-mounts';

const run = promisify(execFile);

/** Mounts them under `root`; resolves with the function that takes them down again. */
export async function mountForCopy(root: string, mounts: DockerMountPoint[]): Promise<() => void> {
  const done: string[] = [];
  const undo = (): void => {
    for (const target of done.reverse()) {
      try {
        umount(target, true);
      } catch (e) {
        log.warn('umount of a copy mount failed', { target, e: String(e) });
      }
    }
  };
  const depth = (m: DockerMountPoint) => m.Destination.split('/').filter(Boolean).length;
  try {
    for (const m of [...mounts].sort((a, b) => depth(a) - depth(b))) {
      if (m.Type === 'tmpfs' || !m.Source) continue;
      const src = fs.statSync(m.Source, { throwIfNoEntry: false });
      if (!src) continue; // a bind source gone since: the start would fail on it, a copy need not
      const target = path.join(root, resolveInRoot(root, m.Destination));
      if (src.isDirectory()) fs.mkdirSync(target, { recursive: true });
      else if (!fs.existsSync(target)) {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, '');
      }
      await run('mount', ['--rbind', ...(m.RW ? [] : ['-o', 'ro']), m.Source, target]);
      done.push(target);
    }
  } catch (e) {
    undo();
    throw e;
  }
  return undo;
}
