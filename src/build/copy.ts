/**
 * COPY and ADD as layer entries: sources from the build context (or another stage's / image's rootfs) placed at the
 * destination with docker's rules, written straight into the layer tar (no copy on disk). Parent directories that
 * exist in the image keep their metadata in the layer; new ones are 0755. ADD extracts local tar archives and fetches
 * the URLs the Dockerfile names (nothing else).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { clampTime, statEntry, treeEntries, type TarEntry } from '../store/diff';
import { hashSources } from './cachekey';
import { resolveInRoot } from '../common/rootpath';
import { fetchGit, parseGitSource } from './gitsource';
import { eitherFilter, IgnoreMatcher, resolveCopySources, type PathFilter, type ResolvedCopy } from './context';
import type { CopyInst } from './instructions';
import { parseChmod } from './instructions';
import { resolveChown } from './rootfs';

const run = promisify(execFile);

export interface CopySourceRoot {
  /** Directory the sources are read from: the context dir, or a rootfs for --from. */
  dir: string;
  /** .dockerignore of the context (none for --from). */
  ignore?: PathFilter;
  /** For --from: the image ID, which stands for the content in the cache key. */
  imageId?: string;
}

export interface CopyPlan {
  inst: CopyInst;
  src: CopySourceRoot;
  resolved: ResolvedCopy;
  /** Downloaded ADD URLs: local temp file, file name, Last-Modified. */
  downloads: Array<{ url: string; file: string; name: string; mtime?: number }>;
  /** Checked-out ADD git sources: the directory whose content is added. */
  gitTrees: string[];
  /** Cache key input: content of everything the step reads. */
  sourcesKey: string;
  /** The history text's source part ("file:<hex>", "dir:<hex>", "multi:<hex>"). */
  sourceDigest: string;
  /** --exclude, also matched relative to a copied directory. */
  exclude?: IgnoreMatcher;
}

/** A URL's file name as docker derives it (last path element, else the host). */
function urlFileName(url: string): string {
  const u = new URL(url);
  const base = path.posix.basename(u.pathname);
  if (!base || base === '/') throw new Error(`ADD failed: cannot determine a file name from URL ${url}; give a destination file name`);
  return base;
}

async function download(url: string, tmpDir: string): Promise<{ file: string; mtime?: number; digest: string }> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`ADD failed: cannot fetch ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  if (!res.ok || !res.body) throw new Error(`ADD failed: failed to GET ${url} with status ${res.status}: ${res.statusText}`);
  fs.mkdirSync(tmpDir, { recursive: true });
  const file = path.join(tmpDir, `url-${createHash('sha256').update(url).digest('hex').slice(0, 16)}-${Date.now()}`);
  const h = createHash('sha256');
  const out = fs.createWriteStream(file, { mode: 0o600 });
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    h.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  const lm = res.headers.get('last-modified');
  const mtime = lm ? Math.floor(Date.parse(lm) / 1000) : undefined;
  return { file, mtime: Number.isFinite(mtime) ? mtime : undefined, digest: h.digest('hex') };
}

/**
 * Everything that decides the step's result, before any work: sources resolved (missing ones named), URLs fetched,
 * the content key computed.
 */
export async function planCopy(inst: CopyInst, given: CopySourceRoot, workdir: string, tmpDir: string): Promise<CopyPlan> {
  // --exclude patterns apply to context paths, and to paths inside a copied directory (excludeIn below)
  const exclude = inst.exclude.length ? new IgnoreMatcher(inst.exclude) : undefined;
  const src: CopySourceRoot = exclude ? { ...given, ignore: eitherFilter(given.ignore, exclude) } : given;
  const resolved = await resolveCopySources(src.dir, inst, { workdir, ignore: src.ignore });
  const h = createHash('sha256');
  const paths = resolved.sources.map((s) => s.resolved);
  if (src.imageId) h.update(`from ${src.imageId} ${JSON.stringify(paths)}\n`);
  else h.update(`context ${await hashSources(src.dir, paths, src.ignore ? (rel) => src.ignore?.prunes(rel) ?? false : undefined)}\n`);
  for (const doc of inst.heredocs) h.update(`heredoc ${doc.name} ${createHash('sha256').update(doc.content).digest('hex')}\n`);
  const downloads: CopyPlan['downloads'] = [];
  const gitTrees: string[] = [];
  for (const [i, g] of resolved.gits.entries()) {
    const dir = path.join(tmpDir, `git-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    const src = parseGitSource(g);
    const { root, commit } = await fetchGit(src, dir, inst.keepGitDir);
    gitTrees.push(root);
    h.update(`git ${src.remote} ${commit} ${src.subdir ?? ''} ${inst.keepGitDir}\n`);
  }
  if (inst.checksum !== undefined && (resolved.urls.length !== 1 || resolved.sources.length || resolved.gits.length || inst.heredocs.length)) {
    throw new Error("checksum can't be specified for non-HTTP(S) sources");
  }
  for (const url of resolved.urls) {
    const d = await download(url, tmpDir);
    if (inst.checksum !== undefined && `sha256:${d.digest}` !== inst.checksum) {
      throw new Error(`checksum mismatch for ${url}: expected ${inst.checksum}, got sha256:${d.digest}`);
    }
    downloads.push({ url, file: d.file, name: urlFileName(url), mtime: d.mtime });
    h.update(`url ${url} ${d.digest} ${d.mtime ?? ''}\n`);
  }
  const hex = h.digest('hex');
  const kind = resolved.sources.length + downloads.length + inst.heredocs.length > 1 ? 'multi' : resolved.sources[0]?.isDir ? 'dir' : 'file';
  return { inst, src, resolved, downloads, sourcesKey: `sha256:${hex}`, sourceDigest: `${kind}:${hex}`, exclude, gitTrees };
}

/** Is this file a tar archive (plain or compressed) that ADD should unpack? */
async function isArchive(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  const head = Buffer.alloc(512);
  const { bytesRead } = await fh.read(head, 0, 512, 0);
  await fh.close();
  if (bytesRead >= 262 && head.toString('latin1', 257, 262) === 'ustar') return true;
  const compressed = (head[0] === 0x1f && head[1] === 0x8b) || head.toString('latin1', 0, 3) === 'BZh' ||
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (!compressed) return false;
  return run('tar', ['-tf', file], { maxBuffer: 64 << 20 }).then(() => true, () => false);
}

export interface CopyEnv {
  /** Merged rootfs of the image being built. */
  rootfs: string;
  epoch?: number;
  tmpDir: string;
  now: number;
}

/** The layer entries of a planned COPY/ADD. */
export async function copyEntries(plan: CopyPlan, env: CopyEnv): Promise<AsyncIterable<TarEntry>> {
  const { inst, resolved } = plan;
  const owner = inst.chown ? await resolveChown(env.rootfs, inst.chown) : { uid: 0, gid: 0 };
  const chmod = inst.chmod ? parseChmod(inst.chmod) : undefined;
  const mtimeNow = clampTime(env.now, env.epoch);

  const destAbs = resolved.dest.replace(/\/+$/, '') || '/';
  const destFollowed = resolveInRoot(env.rootfs, destAbs);
  const destStat = await fs.promises.stat(path.join(env.rootfs, destFollowed)).catch(() => undefined);
  // "." and ".." name directories even without a trailing slash (docker's rule).
  const destIsDir = resolved.destIsDir || /(^|\/)\.\.?$/.test(inst.dest) || !!destStat?.isDirectory();
  const target = destIsDir ? destFollowed : resolveInRoot(env.rootfs, destAbs, false);
  const emittedDirs = new Set<string>();

  /** Ancestors of `rel` (exclusive), root first, with the image's metadata where they exist. */
  async function* parents(rel: string, includeSelf: boolean, selfSource?: fs.Stats): AsyncGenerator<TarEntry> {
    const parts = rel === '.' ? [] : rel.split('/');
    const upto = includeSelf ? parts.length : parts.length - 1;
    for (let i = 1; i <= upto; i++) {
      const name = parts.slice(0, i).join('/');
      if (emittedDirs.has(name)) continue;
      emittedDirs.add(name);
      const abs = path.join(env.rootfs, name);
      const st = await fs.promises.lstat(abs).catch(() => undefined);
      if (st?.isDirectory()) {
        const e = statEntry(abs, name, st, { epoch: env.epoch });
        if (e) yield e;
        continue;
      }
      if (st) throw new Error(`${inst.kind} failed: cannot copy to /${name}: it exists and is not a directory`);
      const fromSource = i === parts.length && selfSource;
      yield {
        name, type: 'dir', uid: owner.uid, gid: owner.gid,
        mode: fromSource ? (chmod ?? selfSource.mode & 0o7777) : 0o755,
        mtime: fromSource ? clampTime(Math.floor(selfSource.mtimeMs / 1000), env.epoch) : mtimeNow,
      };
    }
  }

  const own = (e: TarEntry, keepOwner = false): TarEntry => ({
    ...e,
    ...(keepOwner && !inst.chown ? {} : { uid: owner.uid, gid: owner.gid }),
    ...(chmod !== undefined && e.type !== 'symlink' && e.type !== 'link' ? { mode: chmod } : {}),
  });
  const fileTarget = (name: string): string => (destIsDir ? path.posix.join(target === '.' ? '' : target, name) : target);

  async function* all(): AsyncGenerator<TarEntry> {
    for (const s of resolved.sources) {
      const abs = path.join(plan.src.dir, s.resolved);
      const st = await fs.promises.lstat(abs);
      if (s.isDir) {
        const into = s.keep !== undefined ? path.posix.join(target, s.keep) : target;
        yield* parents(into, true, st);
        const { ignore } = plan.src;
        const { exclude } = plan;
        const skip = ignore || exclude
          ? (rel: string) => (ignore?.prunes(path.posix.join(s.resolved, rel)) ?? false) || (exclude?.matches(rel) ?? false)
          : undefined;
        for await (const e of treeEntries(abs, { epoch: env.epoch, prefix: into === '.' ? '' : into, skip })) yield own(e);
        continue;
      }
      if (inst.kind === 'ADD' && (await isArchive(abs))) {
        yield* parents(target, true);
        yield* extracted(abs, target);
        continue;
      }
      const name = fileTarget(s.keep ?? path.posix.basename(s.rel));
      yield* parents(name, false);
      const e = statEntry(abs, name, st, { epoch: env.epoch });
      if (e) yield own(e);
    }
    for (const root of plan.gitTrees) {
      yield* parents(target, true);
      for await (const e of treeEntries(root, { epoch: env.epoch, prefix: target === '.' ? '' : target })) yield own(e);
    }
    for (const d of plan.downloads) {
      const name = fileTarget(d.name);
      yield* parents(name, false);
      const st = await fs.promises.stat(d.file);
      yield own({ name, type: 'file', mode: 0o600, uid: 0, gid: 0, mtime: clampTime(d.mtime ?? env.now, env.epoch), size: st.size, source: d.file });
    }
    for (const doc of inst.heredocs) {
      const name = fileTarget(doc.name);
      yield* parents(name, false);
      const body = Buffer.from(doc.content);
      yield own({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: mtimeNow, size: body.length, source: body });
    }
  }

  /** ADD of a local archive: unpacked by GNU tar (which refuses names escaping the dir) into a temp dir first. */
  async function* extracted(archive: string, into: string): AsyncGenerator<TarEntry> {
    const dir = fs.mkdtempSync(path.join(env.tmpDir, 'add-'));
    try {
      await run('tar', ['-xpf', archive, '-C', dir, '--numeric-owner', '--same-owner'], { maxBuffer: 64 << 20 })
        .catch((e: Error & { stderr?: string }) => {
          throw new Error(`ADD failed: cannot extract ${path.basename(archive)}: ${e.stderr?.trim() || e.message}`);
        });
      for await (const e of treeEntries(dir, { epoch: env.epoch, prefix: into === '.' ? '' : into })) yield own(e, true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  return all();
}
