/**
 * Layer store: each layer unpacked once, by diffID, under <root>/layers/<hex>/diff (an overlay lower dir), with
 * <hex>/layer.json as the completion marker. A layer is unpacked into a temp dir and renamed into place, so a crash
 * leaves only a temp that repair() removes.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir, readJson, writeJsonAtomic } from '../common/atomic';
import { isRootless } from '../common/rootless';
import { log } from '../common/log';
import { decompressed, DEFAULT_LIMITS, type DecompressionLimits } from './compression';
import type { Durability } from './content';
import type { Lease } from './leases';
import { LayerError, TarPolicy } from './tarpolicy';
import { TarScanner } from './tarscan';
import { toOverlay } from './whiteout';

export { LayerError } from './tarpolicy';

export interface LayerInfo {
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
}

export interface UnpackOptions {
  /** Refuse the layer when its diffID differs (e.g. the image config's rootfs.diff_ids entry). */
  expectedDiffId?: string;
  lease?: Lease;
  /** 'deferred': no syncfs here; the caller makes the layer durable later (ImageStore.flush before its record). */
  durability?: Durability;
}

const tmpPrefix = '.tmp-';
const marker = 'layer.json';
const hexOf = (diffId: string): string => {
  if (!/^sha256:[a-f0-9]{64}$/.test(diffId)) throw new Error(`invalid diffID: ${JSON.stringify(diffId)}`);
  return diffId.slice(7);
};

export class LayerStore {
  readonly dir: string;
  /** A layer was published without syncfs since the last ImageStore.flush. */
  dirty = false;

  constructor(root: string, readonly limits: DecompressionLimits = DEFAULT_LIMITS) {
    this.dir = path.join(root, 'layers');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** The overlay lower dir of a layer. */
  path(diffId: string): string {
    return path.join(this.dir, hexOf(diffId), 'diff');
  }

  /**
   * The overlay lower dirs of an image's layers (`diffIds` bottom first), top layer first. A layer is unpacked once per
   * diffID, so an image that holds the same layer twice (two steps with byte-identical diffs, e.g. empty ones in the
   * same second) would name one dir twice, which overlayfs refuses as overlapping (ELOOP). Only the topmost copy is
   * kept: it shadows every path of the lower one, so the merged tree is the same.
   */
  lowerDirs(diffIds: readonly string[]): string[] {
    return [...new Set([...diffIds].reverse())].map((d) => this.path(d));
  }

  has(diffId: string): boolean {
    return fs.existsSync(path.join(this.dir, hexOf(diffId), marker));
  }

  info(diffId: string): LayerInfo {
    const info = readJson<LayerInfo>(path.join(this.dir, hexOf(diffId), marker));
    if (!info) throw new Error(`layer ${diffId} is not unpacked`);
    return info;
  }

  list(): string[] {
    return fs.readdirSync(this.dir).filter((n) => /^[a-f0-9]{64}$/.test(n) && fs.existsSync(path.join(this.dir, n, marker))).map((n) => `sha256:${n}`);
  }

  /** Disk bytes are not tracked: the uncompressed tar size is what docker reports as a layer's size. */
  size(diffId: string): number {
    return this.info(diffId).size;
  }

  /** Rename away first so that a crash in the middle of rm leaves a temp, never a half layer under its diffID. */
  delete(diffId: string): void {
    const from = path.join(this.dir, hexOf(diffId));
    const to = path.join(this.dir, `${tmpPrefix}del-${hexOf(diffId)}-${crypto.randomBytes(4).toString('hex')}`);
    try {
      fs.renameSync(from, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    fs.rmSync(to, { recursive: true, force: true });
  }

  /** Remove temps and dirs without a completion marker. Returns how many were removed. */
  repair(): number {
    let n = 0;
    for (const name of fs.readdirSync(this.dir)) {
      if (name.startsWith(tmpPrefix) || !fs.existsSync(path.join(this.dir, name, marker))) {
        if (removeTemp(path.join(this.dir, name))) n++;
      }
    }
    return n;
  }

  /**
   * Unpack a layer tar (plain, gzip or zstd), decompressed within `limits`. Every entry is read by TarScanner and
   * checked against TarPolicy before GNU tar receives its bytes; a refused tar leaves nothing behind. A layer already
   * present is kept as is.
   */
  async unpack(src: Readable, opts: UnpackOptions = {}): Promise<LayerInfo> {
    const tmp = path.join(this.dir, `${tmpPrefix}${crypto.randomBytes(8).toString('hex')}`);
    const diff = path.join(tmp, 'diff');
    fs.mkdirSync(diff, { recursive: true });
    try {
      const { stream } = await decompressed(src, this.limits);
      const policy = new TarPolicy();
      const { diffId, size } = await extract(stream, diff, policy);
      if (opts.expectedDiffId && opts.expectedDiffId !== diffId) {
        throw new LayerError(`layer diffID mismatch: expected ${opts.expectedDiffId}, got ${diffId}`);
      }
      opts.lease?.add(`layer:${diffId}`);
      if (this.has(diffId)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        return { diffId, size };
      }
      toOverlay(diff, policy.whiteouts, policy.opaqueDirs, policy.aufsMeta);
      const deferred = opts.durability === 'deferred';
      const info: LayerInfo = { diffId, size };
      if (deferred) {
        fs.writeFileSync(path.join(tmp, marker), JSON.stringify(info));
        this.dirty = true; // before the rename: a flush that starts later covers this layer
      } else {
        await syncfs(tmp);
        writeJsonAtomic(path.join(tmp, marker), info);
      }
      try {
        fs.renameSync(tmp, path.join(this.dir, hexOf(diffId)));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !this.has(diffId)) throw e;
        fs.rmSync(tmp, { recursive: true, force: true }); // unpacked concurrently by someone else
      }
      if (!deferred) fsyncDir(this.dir);
      return info;
    } catch (e) {
      removeTemp(tmp);
      throw e;
    }
  }
}

/**
 * Remove an unpack temp; false if it could not be: it is left for the next repair, and the caller's own error, if
 * any, is the one reported.
 */
function removeTemp(dir: string): boolean {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    return true;
  } catch (e) {
    log.warn('could not remove a layer temp, left for the next repair', { dir, error: (e as Error).message });
    return false;
  }
}

/**
 * GNU tar's options for an untrusted layer: xattrs only in the user namespace plus security.capability (file
 * capabilities, as docker keeps them); never trusted.* nor user.overlay.* (overlayfs reads them as its own metadata, the
 * latter under `userxattr` in a rootless daemon) nor other
 * security.* (IMA/EVM, SELinux labels); no ACLs; owners by number. Existing files are replaced, never opened
 * (no --overwrite, which would write through a symlink; no --keep-directory-symlink, which would extract into one);
 * TarPolicy refuses every entry that would go through a symlink of the same layer.
 */
const TAR_EXTRACT_ARGS = [
  '--extract', '--file=-', '--preserve-permissions', '--numeric-owner', '--no-acls', '--no-selinux',
  '--xattrs', '--xattrs-include=user.*', '--xattrs-include=security.capability', '--xattrs-exclude=user.overlay.*',
];

/** Feed the tar to the checker and, once each chunk is checked, to GNU tar; hash it on the way (the diffID). */
async function extract(input: Readable, dest: string, policy: TarPolicy): Promise<LayerInfo> {
  // Tied to berthd's life (parent-death signal): a tar orphaned by a killed daemon would go on writing into the temp
  // while the next start's repair removes it.
  const tar = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'tar', ...TAR_EXTRACT_ARGS, '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  tar.stdin.on('error', () => undefined); // EPIPE if tar dies; its exit status says why
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code));
  });

  const scanner = new TarScanner();
  const devices = new Set<string>();
  const hash = crypto.createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      try {
        for (const entry of scanner.push(chunk)) {
          policy.check(entry);
          if (entry.type === 'character-device' || entry.type === 'block-device') devices.add(entry.name);
        }
      } catch (e) {
        throw new LayerError(`refusing layer: ${(e as Error).message}`);
      }
      // Keep hashing after tar is done: it may stop reading at the end-of-archive blocks before the stream ends.
      if (tar.exitCode === null && !tar.stdin.write(chunk)) await Promise.race([waitAny(tar.stdin, ['drain', 'close']), exited]);
    }
    scanner.end();
    tar.stdin.end();
    const code = await exited;
    if (code !== 0 && !(code === 2 && isRootless() && onlySkippedDevices(stderr, devices))) throw new LayerError(`tar: ${stderr.trim() || `exit status ${code}`}`);
  } catch (e) {
    if (tar.exitCode === null) tar.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw e;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

/**
 * A rootless daemon cannot make device nodes (mknod needs the host's CAP_MKNOD): those entries are skipped, as
 * rootless Docker does. True when tar's only complaints are the mknod refusals of device entries the layer holds.
 */
export function onlySkippedDevices(stderr: string, devices: ReadonlySet<string>): boolean {
  const lines = stderr.trim().split('\n');
  return lines.every((l) => {
    if (l === 'tar: Exiting with failure status due to previous errors') return true;
    const m = /^tar: (.*): Cannot mknod: Operation not permitted$/.exec(l);
    return !!m && devices.has(m[1]);
  });
}

/** Resolve on the first of these events. */
function waitAny(em: NodeJS.EventEmitter, names: string[]): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      for (const n of names) em.off(n, done);
      resolve();
    };
    for (const n of names) em.on(n, done);
  });
}

/** Make everything written on the filesystem of `dir` durable (syncfs). */
export async function syncfs(dir: string): Promise<void> {
  const p = spawn('sync', ['-f', dir], { stdio: 'ignore' });
  const [code] = (await once(p, 'close')) as [number | null];
  if (code !== 0) throw new Error(`sync -f ${dir}: exit status ${code}`);
}
