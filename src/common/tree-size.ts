/** Disk usage of a directory tree, counted as dockerd counts it. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Bytes of the files under `dir` as dockerd's directory.Size counts them: regular files and symlinks by their size,
 * each inode once, without following links or crossing into another filesystem (a bind mount inside a volume).
 */
export function treeSize(dir: string): number {
  const root = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (!root?.isDirectory()) return 0;
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return; // vanished or unreadable while we looked: dockerd skips it too
    }
    for (const name of names) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p, { throwIfNoEntry: false, bigint: false });
      if (!st || st.dev !== root.dev) continue;
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      const key = `${st.ino}`;
      if (st.nlink > 1) {
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += st.size;
    }
  };
  walk(dir);
  return total;
}
