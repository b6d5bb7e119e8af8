/**
 * Persistent directories of `RUN --mount=type=cache`: <root>/<key>/data with a record (meta.json) per cache. The
 * key is the cache id (and the `from` source that seeded it); sharing=private takes another instance when one is in
 * use, locked waits for it. A cache is made under a temp name and renamed in whole, so a failed seed leaves nothing;
 * it is never part of a layer. `prune` (POST /build/prune) removes unused caches by age and a storage cap.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../common/atomic';
import { treeSize } from '../common/tree-size';
import type { CacheSharing } from './mounts';

interface Meta {
  id: string;
  created: string;
  lastUsed: string;
}

export interface CacheRequest {
  id: string;
  /** What else names the cache: the `from` image/stage and source that seeded it ('' for none). */
  origin: string;
  sharing: CacheSharing;
  mode: number;
  uid: number;
  gid: number;
  /** Fills a new cache (cache mounts with from=); runs before the cache is visible. */
  seed?: (dir: string) => Promise<void>;
}

export interface CacheRecord {
  ID: string;
  Description: string;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string;
  InUse: boolean;
  Type: 'exec.cachemount';
  Shared: boolean;
}

export class CacheMounts {
  /** Instances in use: dir name → holders. */
  private readonly inUse = new Map<string, number>();
  /** sharing=locked: dir name → the tail of its queue. */
  private readonly locks = new Map<string, Promise<void>>();
  private readonly tmp: string;

  constructor(private readonly root: string) {
    this.tmp = path.join(root, '.tmp');
    fs.rmSync(this.tmp, { recursive: true, force: true }); // half-made caches of a crashed build
    fs.mkdirSync(this.tmp, { recursive: true });
  }

  /** The cache's directory for one RUN; call `release` when the step is over. */
  async acquire(req: CacheRequest): Promise<{ dir: string; release: () => void }> {
    const base = createHash('sha256').update(JSON.stringify([req.id, req.origin])).digest('hex').slice(0, 32);
    let name = base;
    let unlock = (): void => undefined;
    if (req.sharing === 'private') {
      for (let n = 1; this.inUse.has(name); n++) name = `${base}-${n}`;
    } else if (req.sharing === 'locked') {
      const prev = this.locks.get(name) ?? Promise.resolve();
      let done!: () => void;
      const mine = new Promise<void>((r) => (done = r));
      const tail = prev.then(() => mine);
      this.locks.set(name, tail);
      await prev;
      unlock = (): void => {
        done();
        if (this.locks.get(name) === tail) this.locks.delete(name);
      };
    }
    this.inUse.set(name, (this.inUse.get(name) ?? 0) + 1);
    const release = (): void => {
      const n = (this.inUse.get(name) ?? 1) - 1;
      if (n > 0) this.inUse.set(name, n);
      else this.inUse.delete(name);
      unlock();
    };
    try {
      const dir = path.join(this.root, name);
      if (!fs.existsSync(dir)) await this.create(dir, req);
      const meta = readJson<Meta>(path.join(dir, 'meta.json'));
      writeJsonAtomic(path.join(dir, 'meta.json'), { ...(meta ?? { id: req.id, created: new Date().toISOString() }), lastUsed: new Date().toISOString() });
      return { dir: path.join(dir, 'data'), release };
    } catch (e) {
      release();
      throw e;
    }
  }

  private async create(dir: string, req: CacheRequest): Promise<void> {
    const tmp = fs.mkdtempSync(path.join(this.tmp, 'c-'));
    try {
      const data = path.join(tmp, 'data');
      fs.mkdirSync(data);
      if (req.seed) await req.seed(data);
      fs.chmodSync(data, req.mode);
      fs.chownSync(data, req.uid, req.gid);
      const now = new Date().toISOString();
      writeJsonAtomic(path.join(tmp, 'meta.json'), { id: req.id, created: now, lastUsed: now } satisfies Meta);
      fs.renameSync(tmp, dir);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  /** Every cache with its size (BuildKit's usage records). */
  async records(): Promise<CacheRecord[]> {
    const out: CacheRecord[] = [];
    for (const name of fs.readdirSync(this.root)) {
      if (name.startsWith('.')) continue;
      const dir = path.join(this.root, name);
      let meta: Meta | undefined;
      try {
        meta = readJson<Meta>(path.join(dir, 'meta.json'));
      } catch {
        meta = undefined; // torn: reported with no dates, pruned first
      }
      out.push({
        ID: name, Description: `cached mount ${meta?.id ?? '?'}`, Size: treeSize(dir), Type: 'exec.cachemount', Shared: false,
        CreatedAt: meta?.created ?? new Date(0).toISOString(), LastUsedAt: meta?.lastUsed ?? new Date(0).toISOString(), InUse: this.inUse.has(name),
      });
    }
    return out;
  }

  /**
   * Removes unused caches last used before `before` (ms; all ages when undefined), then, with `keepStorage`, the least
   * recently used others until the rest fit in it.
   */
  async prune(opts: { before?: number; keepStorage?: number }): Promise<{ removed: string[]; reclaimed: number }> {
    const all = (await this.records()).filter((r) => !r.InUse).sort((a, b) => Date.parse(a.LastUsedAt) - Date.parse(b.LastUsedAt));
    let total = all.reduce((n, r) => n + r.Size, 0);
    const removed: string[] = [];
    let reclaimed = 0;
    for (const r of all) {
      const old = opts.before === undefined || Date.parse(r.LastUsedAt) < opts.before;
      const over = opts.keepStorage !== undefined && total > opts.keepStorage;
      if (opts.keepStorage !== undefined ? !(old && over) : !old) continue;
      // Renamed away first so a crash mid-removal leaves no half cache under a live name.
      const gone = path.join(this.tmp, `rm-${r.ID}`);
      fs.renameSync(path.join(this.root, r.ID), gone);
      fs.rmSync(gone, { recursive: true, force: true });
      removed.push(r.ID);
      reclaimed += r.Size;
      total -= r.Size;
    }
    return { removed, reclaimed };
  }
}
