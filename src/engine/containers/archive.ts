/**
 * Files in and out of a container: `cp` (GET/PUT/HEAD /containers/{id}/archive), `export`, and `diff` (changes
 * from the overlay upper dir). cp may run against a live container that changes its files meanwhile, so nothing is
 * looked up twice by name: paths are opened by the kernel inside the container root (common/rootpath RootDir,
 * openat2 RESOLVE_IN_ROOT), trees are walked and written one name at a time below opened directory fds, and
 * nothing follows a symlink it did not resolve inside the root (docker's CVE-2018-15664 class).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { ApiError, badRequest, notFound } from '../../common/errors';
import { fdPath, lstatAt, openAt, removeAllAt, resolveInRoot, RootDir, withRootDir } from '../../common/rootpath';
import { fchmodat, fchownat, getxattr, linkat, mkdirat, O_PATH, symlinkat, utimensat } from '../../native';
import { statEntry, tarBytes, treeEntries, type TarEntry } from '../../store/diff';
import { isOverlayWhiteout, opaqueXattr } from '../../store/whiteout';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY } = fs.constants;

/** docker's PathStat (X-Docker-Container-Path-Stat, base64 JSON); mode in Go's os.FileMode bits. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

const GO_MODE = { dir: 2 ** 31, symlink: 2 ** 27, device: 2 ** 26, pipe: 2 ** 25, socket: 2 ** 24, setuid: 2 ** 23, setgid: 2 ** 22, charDevice: 2 ** 21, sticky: 2 ** 20 };

export function goFileMode(st: fs.Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += GO_MODE.dir;
  else if (st.isSymbolicLink()) m += GO_MODE.symlink;
  else if (st.isCharacterDevice()) m += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isBlockDevice()) m += GO_MODE.device;
  else if (st.isFIFO()) m += GO_MODE.pipe;
  else if (st.isSocket()) m += GO_MODE.socket;
  if (st.mode & 0o4000) m += GO_MODE.setuid;
  if (st.mode & 0o2000) m += GO_MODE.setgid;
  if (st.mode & 0o1000) m += GO_MODE.sticky;
  return m;
}

export const encodeStat = (s: PathStat): string => Buffer.from(JSON.stringify(s)).toString('base64');

const errno = (e: unknown): string | undefined => (e as NodeJS.ErrnoException).code;

/** One opened place in the container: the directory fd holding it and its name there ("." for the directory itself). */
interface At {
  dirfd: number;
  name: string;
  st: fs.Stats;
}

/**
 * The container path `p` opened inside the root: a final symlink is the link itself unless `p` ends in "/" or "/."
 * (docker's rule). 404 with docker's wording when absent. The caller closes `dirfd`.
 */
function openPath(r: RootDir, p: string, ref: string): At {
  const missing = () => notFound(`Could not find the file ${p} in container ${ref}`);
  let at: { dirfd: number; name: string };
  try {
    at = /\/\.?$/.test(p) ? { dirfd: r.open(p, O_PATH), name: '.' } : r.openParent(p);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') throw missing();
    if (errno(e) === 'ELOOP') throw badRequest(`${p}: too many levels of symbolic links, or a /proc link that is not followed`);
    throw badRequest(`${p}: ${(e as Error).message}`);
  }
  let st: fs.Stats | undefined;
  try {
    st = lstatAt(at.dirfd, at.name);
  } catch (e) {
    if (errno(e) !== 'ENOTDIR') throw e;
  }
  if (!st) {
    fs.closeSync(at.dirfd);
    throw missing();
  }
  return { ...at, st };
}

function pathStat(r: RootDir, p: string, st: fs.Stats): PathStat {
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    try {
      linkTarget = '/' + resolveInRoot(fdPath(r.fd), p, true).replace(/^\.$/, '');
    } catch (e) {
      throw badRequest((e as Error).message);
    }
  }
  const name = p.endsWith('/.') ? '.' : path.posix.basename(p) || '/';
  return { name, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget };
}

/** HEAD /archive: lstat of a container path (a final symlink is reported as a link, with its resolved target). */
export function statPath(root: string, p: string, ref: string): PathStat {
  return withRootDir(root, (r) => {
    const at = openPath(r, p, ref);
    fs.closeSync(at.dirfd);
    return pathStat(r, p, at.st);
  });
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The tar entries of `at` and, for a directory, its tree, named from `name` ("" leaves the directory itself out).
 * Each directory is opened (never through a symlink) and read through its fd, each file opened by one name in it:
 * a link swapped in after the lstat makes the open fail (ELOOP) instead of leading elsewhere.
 */
async function* entriesAt(at: At, name: string, links: Map<string, string>): AsyncGenerator<TarEntry> {
  const e = statEntry(fdPath(at.dirfd, at.name), name || '.', at.st, { links });
  if (!e) return;
  if (e.type === 'file') {
    const fd = openAt(at.dirfd, at.name, O_RDONLY | O_NONBLOCK);
    try {
      const now = fs.fstatSync(fd);
      if (!now.isFile() || now.ino !== at.st.ino) throw new Error(`${name}: file changed while it was archived`);
      yield { ...e, source: fdPath(fd) };
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  if (name) yield e;
  if (e.type !== 'dir') return;
  const fd = openAt(at.dirfd, at.name, O_RDONLY | O_DIRECTORY);
  try {
    for (const n of fs.readdirSync(fdPath(fd)).sort(byteOrder)) {
      const st = lstatAt(fd, n);
      if (st) yield* entriesAt({ dirfd: fd, name: n, st }, name ? `${name}/${n}` : n, links);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * GET /archive: `send` gets the path's stat and the tar docker sends (the path under its base name, "." for
 * "dir/.", then its tree); the container root stays open until `send` is done.
 */
export async function withArchive(root: string, p: string, ref: string, send: (stat: PathStat, tar: Readable) => Promise<void>): Promise<void> {
  const r = new RootDir(root);
  try {
    const at = openPath(r, p, ref);
    try {
      const base = p.endsWith('/.') ? '' : path.posix.basename(p.replace(/\/+$/, '')) || '';
      await send(pathStat(r, p, at.st), Readable.from(tarBytes(entriesAt(at, base, new Map()))));
    } finally {
      fs.closeSync(at.dirfd);
    }
  } finally {
    r.close();
  }
}

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  /** Keep the archive's uid/gid (docker cp -a); else files belong to the container's root. */
  copyUIDGID: boolean;
}

/** Writes one archive entry as `name` in the open directory `dirfd` (which the caller closes). */
async function writeEntry(r: RootDir, base: string, h: tarStream.Header, body: AsyncIterable<unknown>, dirfd: number, name: string): Promise<void> {
  const mode = (h.mode ?? 0o644) & 0o7777;
  switch (h.type) {
    case 'file':
    case 'contiguous-file': {
      const fd = openAt(dirfd, name, O_WRONLY | O_CREAT | O_EXCL, mode);
      await pipeline(body, fs.createWriteStream('', { fd }));
      return;
    }
    case 'directory':
      if (!lstatAt(dirfd, name)?.isDirectory()) mkdirat(dirfd, name, mode);
      break;
    case 'symlink':
      symlinkat(h.linkname ?? '', dirfd, name);
      break;
    case 'link': {
      // the link's own name resolved inside the root, a final symlink linked as itself (never followed)
      const from = r.openParent(path.posix.join(base, path.posix.normalize(h.linkname ?? '')));
      try {
        linkat(from.dirfd, from.name, dirfd, name);
      } catch (e) {
        throw errno(e) === 'ENOENT' ? badRequest(`invalid hardlink ${h.name}: its target ${h.linkname} is not in the container`) : e;
      } finally {
        fs.closeSync(from.dirfd);
      }
      break;
    }
    case 'fifo':
      throw badRequest(`cannot copy a fifo: ${h.name}`);
    default:
      throw badRequest(`unsupported archive entry type ${h.type}: ${h.name}`);
  }
  for await (const chunk of body) void chunk; // drain: entries other than files have no data (or none we keep)
}

/**
 * PUT /archive: unpack `src` into the container directory `p`. Every entry's parent is created and opened inside
 * the root (symlinks resolved there), and the entry itself is made by its one name in that directory, replacing
 * what is there rather than following it; owners, modes and times are set the same way.
 */
export async function extractInto(root: string, p: string, ref: string, src: Readable, opts: ExtractOptions): Promise<void> {
  const r = new RootDir(root);
  try {
    let fd: number;
    try {
      fd = r.open(p, O_PATH | O_DIRECTORY);
    } catch (e) {
      if (errno(e) === 'ENOTDIR') throw badRequest('extraction point is not a directory');
      if (errno(e) === 'ENOENT') throw notFound(`Could not find the file ${p} in container ${ref}`);
      throw badRequest(`${p}: ${(e as Error).message}`);
    }
    fs.closeSync(fd);
    await extractEntries(r, path.posix.join('/', p), src, opts);
  } finally {
    r.close();
  }
}

async function extractEntries(r: RootDir, base: string, src: Readable, opts: ExtractOptions): Promise<void> {
  const ex = tarStream.extract();
  const dirTimes: [string, Date][] = [];
  ex.on('entry', (h, stream, next) => {
    const name = path.posix.normalize(h.name).replace(/^\/+/, '').replace(/\/+$/, '');
    const fail = (e: unknown): void => {
      // destroying the extractor also destroys this entry's stream with the error: it is reported once, by the pipeline
      stream.on('error', () => undefined);
      stream.resume();
      ex.destroy(e as Error);
    };
    if (name === '' || name === '.') return void stream.resume().on('end', () => next());
    if (name === '..' || name.startsWith('../')) return fail(badRequest(`invalid archive entry: ${h.name}`));
    const parent = path.posix.join(base, path.posix.dirname(name));
    const entry = path.posix.basename(name);
    let dirfd: number;
    try {
      dirfd = r.mkdirAll(parent);
    } catch (e) {
      return fail(e);
    }
    const isDir = h.type === 'directory';
    const uid = opts.copyUIDGID ? (h.uid ?? 0) : 0;
    const gid = opts.copyUIDGID ? (h.gid ?? 0) : 0;
    (async () => {
      const existing = lstatAt(dirfd, entry);
      if (existing && opts.noOverwriteDirNonDir && existing.isDirectory() !== isDir) {
        throw badRequest(`cannot overwrite ${existing.isDirectory() ? 'directory' : 'non-directory'} "${path.posix.join(base, name)}" with ${isDir ? 'directory' : 'non-directory'} "${name}"`);
      }
      if (existing && !(isDir && existing.isDirectory())) removeAllAt(dirfd, entry);
      await writeEntry(r, base, h, stream, dirfd, entry);
      fchownat(dirfd, entry, uid, gid);
      if (h.type === 'symlink') return;
      fchmodat(dirfd, entry, (h.mode ?? 0o644) & 0o7777);
      if (!h.mtime) return;
      if (isDir) dirTimes.push([path.posix.join(parent, entry), h.mtime]);
      else utimensat(dirfd, entry, h.mtime.getTime() / 1000, h.mtime.getTime() / 1000);
    })().finally(() => fs.closeSync(dirfd)).then(() => next(), fail);
  });
  // a body that is not a tar (or breaks off) is the client's fault: a 400, as docker's "Error processing tar file"
  await pipeline(src, ex).catch((e: Error) => {
    throw e instanceof ApiError || errno(e) ? e : badRequest(`Error processing tar file: ${e.message}`);
  });
  for (const [dir, t] of dirTimes.reverse()) {
    const at = r.openParent(dir);
    try {
      utimensat(at.dirfd, at.name, t.getTime() / 1000, t.getTime() / 1000);
    } finally {
      fs.closeSync(at.dirfd);
    }
  }
}

/** Mount points the engine creates in every container (docker keeps them in its hidden init layer). */
const INIT_PATHS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev/console', '/dev/pts', '/dev/shm', '/proc', '/sys', '/.dockerenv', '/etc/mtab']);

/** docker diff kinds: 0 modified, 1 added, 2 deleted. */
const MODIFIED = 0;
const ADDED = 1;
const DELETED = 2;

export interface Change {
  Path: string;
  Kind: number;
}

/**
 * The container's changes from its upper dir: a whiteout is a deletion, a path that exists in a lower layer is a
 * modification, anything else an addition; sorted by path like docker's.
 */
export function changes(upper: string, lowers: string[]): Change[] {
  const out: Change[] = [];
  const inLower = (rel: string): boolean => lowers.some((l) => fs.lstatSync(path.join(l, rel), { throwIfNoEntry: false }) !== undefined);
  /** Adds the changes below `rel`; false when the directory held only engine-made mount points. */
  const walk = (rel: string): boolean => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(upper, rel));
    } catch {
      return true;
    }
    let real = names.length === 0;
    for (const n of names) {
      const r = path.posix.join(rel, n);
      if (INIT_PATHS.has('/' + r)) continue;
      real = true;
      const st = fs.lstatSync(path.join(upper, r));
      if (isOverlayWhiteout(st)) {
        out.push({ Path: '/' + r, Kind: DELETED });
        continue;
      }
      const opaque = st.isDirectory() && getxattr(path.join(upper, r), opaqueXattr)?.toString() === 'y';
      const at = out.push({ Path: '/' + r, Kind: inLower(r) || opaque ? MODIFIED : ADDED }) - 1;
      // a copied-up directory whose only news is a mount point (e.g. /etc for /etc/hosts) is no change to show
      if (st.isDirectory() && !walk(r) && out[at].Kind === MODIFIED) out.splice(at, 1);
    }
    return real;
  };
  walk('');
  return out.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

/** `docker export`: the container's whole root filesystem as a tar (names relative to /). */
export function exportRootfs(rootfs: string): Readable {
  return Readable.from(tarBytes(treeEntries(rootfs)));
}
