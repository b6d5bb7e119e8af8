/**
 * Files in and out of a container: `cp` (GET/PUT/HEAD /containers/{id}/archive), `export`, and `diff` (changes
 * from the overlay upper dir). Paths are resolved inside the container root by walking them ourselves: a symlink
 * is read and its target resolved against the container root, so nothing ever leads out of it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveInRoot as resolveRelative } from '../../common/rootpath';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import { badRequest, notFound } from '../../common/errors';
import { getxattr } from '../../native';
import { statEntry, tarBytes, treeEntries, type TarEntry } from '../../store/diff';
import { isOverlayWhiteout, opaqueXattr } from '../../store/whiteout';

/**
 * The host path of `p` inside `root`, following symlinks (the final one only if `followFinal`) as the container
 * would see them; `..` never climbs above root. Missing components are kept as they are (for stat's ENOENT).
 */
export function resolveInRoot(root: string, p: string, followFinal = true): string {
  try {
    return path.join(root, resolveRelative(root, p, followFinal));
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

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

/** lstat of a container path (a final symlink is reported as a link, with its resolved target). */
export function statPath(root: string, p: string, containerRef: string): { host: string; stat: PathStat; st: fs.Stats } {
  const host = resolveInRoot(root, p, false);
  const st = fs.lstatSync(host, { throwIfNoEntry: false });
  if (!st) throw notFound(`Could not find the file ${p} in container ${containerRef}`);
  const linkTarget = st.isSymbolicLink() ? '/' + path.relative(root, resolveInRoot(root, p, true)) : '';
  const name = p.endsWith('/.') ? '.' : path.posix.basename(p) || '/';
  return { host, st, stat: { name, size: st.size, mode: goFileMode(st), mtime: st.mtime.toISOString(), linkTarget } };
}

export const encodeStat = (s: PathStat): string => Buffer.from(JSON.stringify(s)).toString('base64');

/** The tar GET /archive sends: the path itself under its base name ("." for "dir/."), then its tree. */
export function archivePath(host: string, st: fs.Stats, requested: string): Readable {
  const base = requested.endsWith('/.') ? '.' : path.posix.basename(requested.replace(/\/+$/, '')) || '.';
  async function* entries(): AsyncGenerator<TarEntry> {
    const top = statEntry(host, base, st);
    if (!top) return;
    if (base !== '.') yield top;
    if (top.type !== 'dir') return;
    for await (const e of treeEntries(host, { prefix: base === '.' ? '' : base })) yield e;
  }
  return Readable.from(tarBytes(entries()));
}

export interface ExtractOptions {
  /** Refuse to replace a directory with a non-directory or the reverse (docker's noOverwriteDirNonDir). */
  noOverwriteDirNonDir: boolean;
  /** Keep the archive's uid/gid (docker cp -a); else files belong to the container's root. */
  copyUIDGID: boolean;
}

/**
 * PUT /archive: unpack `src` into directory `dirInRoot` of the container. Every entry's parent is resolved inside
 * the root (symlinks included), and the entry itself replaces what is there rather than following it.
 */
export async function extractInto(root: string, dirInRoot: string, src: Readable, opts: ExtractOptions): Promise<void> {
  const ex = tarStream.extract();
  const dirTimes: [string, Date][] = [];
  ex.on('entry', (h, stream, next) => {
    const done = (e?: unknown): void => {
      if (e) ex.destroy(e as Error);
      else next();
    };
    const name = path.posix.normalize(h.name).replace(/^\/+/, '').replace(/\/+$/, '');
    if (name === '' || name === '.') {
      stream.resume();
      stream.on('end', () => done());
      return;
    }
    if (name === '..' || name.startsWith('../')) {
      stream.resume();
      return done(badRequest(`invalid archive entry: ${h.name}`));
    }
    const parent = resolveInRoot(root, path.posix.join(dirInRoot, path.posix.dirname(name)));
    const target = path.join(parent, path.posix.basename(name));
    try {
      fs.mkdirSync(parent, { recursive: true });
      const existing = fs.lstatSync(target, { throwIfNoEntry: false });
      const isDir = h.type === 'directory';
      if (existing && opts.noOverwriteDirNonDir && existing.isDirectory() !== isDir) {
        throw badRequest(`cannot overwrite ${existing.isDirectory() ? 'directory' : 'non-directory'} "${path.posix.join(dirInRoot, name)}" with ${isDir ? 'directory' : 'non-directory'} "${name}"`);
      }
      if (existing && !(isDir && existing.isDirectory())) fs.rmSync(target, { recursive: true, force: true });
    } catch (e) {
      stream.resume();
      return done(e);
    }
    const uid = opts.copyUIDGID ? (h.uid ?? 0) : 0;
    const gid = opts.copyUIDGID ? (h.gid ?? 0) : 0;
    const mode = (h.mode ?? 0o644) & 0o7777;
    const finish = (): void => {
      fs.lchownSync(target, uid, gid);
      if (h.type !== 'symlink') fs.chmodSync(target, mode);
      if (h.mtime && h.type !== 'symlink') {
        if (h.type === 'directory') dirTimes.push([target, h.mtime]);
        else fs.utimesSync(target, h.mtime, h.mtime);
      }
    };
    try {
      switch (h.type) {
        case 'file':
        case 'contiguous-file': {
          const out = fs.createWriteStream(target, { flags: 'wx', mode });
          pipeline(stream, out).then(() => {
            finish();
            done();
          }, done);
          return;
        }
        case 'directory':
          fs.mkdirSync(target, { recursive: true });
          break;
        case 'symlink':
          fs.symlinkSync(h.linkname ?? '', target);
          break;
        case 'link': {
          const from = resolveInRoot(root, path.posix.join(dirInRoot, path.posix.normalize(h.linkname ?? '')), false);
          fs.linkSync(from, target);
          break;
        }
        case 'fifo':
          throw badRequest(`cannot copy a fifo: ${h.name}`);
        default:
          throw badRequest(`unsupported archive entry type ${h.type}: ${h.name}`);
      }
      finish();
    } catch (e) {
      stream.resume();
      return done(e);
    }
    stream.resume();
    stream.on('end', () => done());
  });
  await pipeline(src, ex);
  for (const [dir, t] of dirTimes.reverse()) fs.utimesSync(dir, t, t);
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
