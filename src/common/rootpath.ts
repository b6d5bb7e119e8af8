/**
 * Paths inside a root filesystem (a container's, a build context), resolved the way a chroot would see them.
 * `resolveInRoot` computes the path (for messages, and to choose what to create); everything that opens or creates
 * goes through a {@link RootDir}, where the kernel resolves (openat2 RESOLVE_IN_ROOT) and the *at calls act on one
 * name in an opened directory: a symlink swapped in meanwhile can never lead out of the root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkdirat, O_PATH, openat2, RESOLVE, unlinkat } from '../native';

const MAX_LINKS = 255;
const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = fs.constants;

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

/** The path of an open fd as the kernel reopens it: the very file, never re-resolved by name. */
export const fdPath = (fd: number, name?: string): string => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);

/** lstat of one name in an open directory (a symlink is reported, not followed); undefined when absent. */
export const lstatAt = (dirfd: number, name: string): fs.Stats | undefined => fs.lstatSync(fdPath(dirfd, name), { throwIfNoEntry: false });

/** One name in an open directory, with O_NOFOLLOW: fails with ELOOP if it is a symlink. */
export const openAt = (dirfd: number, name: string, flags: number, mode = 0): number =>
  openat2(dirfd, name, flags | O_NOFOLLOW, mode, RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS);

/** rm -rf of one name in an open directory, walking by fds: nothing outside it is touched whatever changes meanwhile. */
export function removeAllAt(dirfd: number, name: string): void {
  const st = lstatAt(dirfd, name);
  if (!st) return;
  if (st.isDirectory()) {
    const fd = openAt(dirfd, name, O_RDONLY | O_DIRECTORY);
    try {
      for (const child of fs.readdirSync(fdPath(fd))) removeAllAt(fd, child);
    } finally {
      fs.closeSync(fd);
    }
  }
  unlinkat(dirfd, name, st.isDirectory());
}

/** A directory used as "/": every path below it is resolved by the kernel inside it. Close it when done. */
export class RootDir {
  readonly fd: number;

  constructor(readonly root: string) {
    this.fd = openat2(-100 /* AT_FDCWD */, root, O_PATH | O_DIRECTORY, 0, 0);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Opens `p` (symlinks, "..", absolute targets all kept inside the root; "/proc/self/..." magic links refused). */
  open(p: string, flags: number, mode = 0): number {
    const rel = p.split('/').filter((c) => c !== '').join('/') || '.';
    return openat2(this.fd, rel, flags, mode, RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS);
  }

  /** `p` without following a final symlink: its parent directory (O_PATH fd, caller closes) and its last name. */
  openParent(p: string): { dirfd: number; name: string } {
    const parts = p.split('/').filter((c) => c !== '' && c !== '.');
    // ".." as the last name means the parent's parent: resolve it in full and name it from its own parent
    if (parts.at(-1) === '..') return this.openParent(resolveInRoot(fdPath(this.fd), p));
    const name = parts.pop();
    if (name === undefined) return { dirfd: this.open('.', O_PATH | O_DIRECTORY), name: '.' };
    return { dirfd: this.open(parts.join('/'), O_PATH | O_DIRECTORY), name };
  }

  /**
   * mkdir -p of `p` inside the root (symlinks followed inside it, as docker's FollowSymlinkInScope + MkdirAll), one
   * name at a time below an opened parent; `made` sees each directory created. Returns an O_PATH fd of it.
   */
  mkdirAll(p: string, mode = 0o755, made?: (dirfd: number, name: string) => void): number {
    const parts = resolveInRoot(fdPath(this.fd), p).split('/').filter((c) => c !== '.');
    let fd = this.open('.', O_PATH | O_DIRECTORY);
    try {
      for (let i = 0; i < parts.length; i++) {
        const prefix = parts.slice(0, i + 1).join('/');
        let next: number;
        try {
          next = this.open(prefix, O_PATH | O_DIRECTORY);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          try {
            mkdirat(fd, parts[i], mode);
            made?.(fd, parts[i]);
          } catch (me) {
            if ((me as NodeJS.ErrnoException).code !== 'EEXIST') throw me; // made by someone else meanwhile
          }
          next = this.open(prefix, O_PATH | O_DIRECTORY);
        }
        fs.closeSync(fd);
        fd = next;
      }
      return fd;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** The regular file at `p` (never a fifo or device, which could block or have effects), undefined when absent. */
  readFile(p: string): Buffer | undefined {
    let fd: number;
    try {
      fd = this.open(p, O_RDONLY | O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      return fs.fstatSync(fd).isFile() ? fs.readFileSync(fd) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Runs `f` with `root` opened as a {@link RootDir}, closed after. */
export function withRootDir<T>(root: string, f: (r: RootDir) => T): T {
  const r = new RootDir(root);
  try {
    return f(r);
  } finally {
    r.close();
  }
}

/** The text of a file inside `root` (symlinks resolved inside it, never on the host), undefined when absent. */
export function readInRoot(root: string, file: string): string | undefined {
  return withRootDir(root, (r) => r.readFile(file)?.toString('utf8'));
}
