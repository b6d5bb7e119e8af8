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
import * as tarStream from 'tar-stream';
import { fsyncDir, readJson, writeJsonAtomic } from '../common/atomic';
import { decompressed } from './compression';
import type { Durability } from './content';
import type { Lease } from './leases';
import { LayerError, TarPolicy } from './tarpolicy';
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

  constructor(root: string) {
    this.dir = path.join(root, 'layers');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** The overlay lower dir of a layer. */
  path(diffId: string): string {
    return path.join(this.dir, hexOf(diffId), 'diff');
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
        fs.rmSync(path.join(this.dir, name), { recursive: true, force: true });
        n++;
      }
    }
    return n;
  }

  /**
   * Unpack a layer tar (plain, gzip or zstd). Every entry is checked against TarPolicy before GNU tar receives its
   * bytes; a refused tar leaves nothing behind. A layer already present is kept as is.
   */
  async unpack(src: Readable, opts: UnpackOptions = {}): Promise<LayerInfo> {
    const tmp = path.join(this.dir, `${tmpPrefix}${crypto.randomBytes(8).toString('hex')}`);
    const diff = path.join(tmp, 'diff');
    fs.mkdirSync(diff, { recursive: true });
    try {
      const { stream } = await decompressed(src);
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
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

/** Feed the tar to the checker and, once each chunk is checked, to GNU tar; hash it on the way (the diffID). */
async function extract(input: Readable, dest: string, policy: TarPolicy): Promise<LayerInfo> {
  const tar = spawn('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', '-', '-C', dest], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  tar.stdin.on('error', () => undefined); // EPIPE if tar dies; its exit status says why
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code));
  });

  // highWaterMark 1: every write reports "not drained" until tar-stream has parsed it (and emitted its entries).
  const checker = tarStream.extract({ highWaterMark: 1 });
  let refused: Error | undefined;
  checker.on('entry', (header, body, next) => {
    if (!refused) {
      try {
        policy.check(header);
      } catch (e) {
        refused = e as Error;
      }
    }
    body.on('end', () => next());
    body.on('error', () => undefined); // a truncated tar errors the checker too; reported from there
    body.resume();
  });
  let checkerError: Error | undefined;
  checker.on('error', (e: Error) => (checkerError = e));
  const checked = async (chunk: Buffer): Promise<void> => {
    if (!checker.write(chunk)) await waitAny(checker, ['drain', 'close', 'error']);
    if (checkerError) throw new LayerError(`invalid tar: ${checkerError.message}`);
    if (refused) throw new LayerError(`refusing layer: ${refused.message}`);
  };

  const hash = crypto.createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      await checked(chunk);
      // Keep hashing after tar is done: it may stop reading at the end-of-archive blocks before the stream ends.
      if (tar.exitCode === null && !tar.stdin.write(chunk)) await Promise.race([waitAny(tar.stdin, ['drain', 'close']), exited]);
    }
    checker.end(undefined);
    await waitAny(checker, ['finish', 'close', 'error']);
    if (checkerError) throw new LayerError(`invalid tar: ${checkerError.message}`);
    if (refused) throw new LayerError(`refusing layer: ${refused.message}`);
    tar.stdin.end();
    const code = await exited;
    if (code !== 0) throw new LayerError(`tar: ${stderr.trim() || `exit status ${code}`}`);
  } catch (e) {
    checker.destroy();
    if (tar.exitCode === null) tar.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw e;
  }
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

/** Resolve on the first of these events (never rejects: errors are read from state by the caller). */
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
