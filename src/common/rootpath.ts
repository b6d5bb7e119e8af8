/** Paths inside a root filesystem (a container's, a build context), resolved the way a chroot would see them. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const MAX_LINKS = 255;

/**
 * `p` relative to `root` ("." for the root itself), following symlinks (the final one only if `followFinal`) as a
 * process chrooted there would: absolute targets start again at `root`, `..` never climbs above it. Missing
 * components are kept as they are.
 */
export function resolveInRoot(root: string, p: string, followFinal = true): string {
  const todo = p.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const c = todo.shift() as string;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = path.join(root, ...done, c);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (st?.isSymbolicLink() && (todo.length > 0 || followFinal)) {
      if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links: ${p}`);
      const target = fs.readlinkSync(host);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((x) => x !== '' && x !== '.'));
      continue;
    }
    done.push(c);
  }
  return done.length === 0 ? '.' : done.join('/');
}

/** The text of a file inside `root` (symlinks resolved inside it, never on the host), undefined when absent. */
export function readInRoot(root: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(root, resolveInRoot(root, file)), 'utf8');
  } catch {
    return undefined;
  }
}
