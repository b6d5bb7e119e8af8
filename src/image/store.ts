/**
 * Image metadata on disk: one record per image (images/<config hex>.json) and the reference map
 * (images/repositories.json, docker's shape: repo -> full reference -> image id). Records are written only once every
 * piece they name (config, manifest, layer blobs, unpacked layers) is present.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, removeStaleTemps, writeJsonAtomic } from '../common/atomic';
import type { DecompressionLimits } from '../store/compression';
import { ContentStore } from '../store/content';
import { LayerStore, syncfs } from '../store/layers';
import type { Lease } from '../store/leases';
import { Trash } from '../store/trash';
import { fullString, parseStored, repoName, type Reference } from './reference';
import { configPlatform, platformMatches, type Platform } from './platform';
import { MediaType, type Descriptor, type ImageConfig, type Index, type Manifest } from './types';

export interface ImageRecord {
  /** sha256 of the config blob: the image ID. */
  id: string;
  /** Digest of the manifest blob in the content store. */
  manifest: string;
  /** When this record was made (RFC 3339). */
  created: string;
  lastTagTime?: string;
  /** Image this one was built on (legacy builder / commit), for history ids and `images -a`. */
  parent?: string;
  /**
   * A multi-platform image: the digest of its OCI image index (a content blob). The record itself is the index's
   * entry the tags show (the host's platform, else the first); the other entries are records with `platformOf`.
   */
  index?: string;
  /** The record holding the index this image is one platform of: hidden and kept while that record lives. */
  platformOf?: string;
}

/** What an image is made of, for reference counting. */
export interface Pieces {
  blobs: string[];
  layers: string[];
}

export interface NewImage {
  /** The config exactly as it will be stored: its sha256 is the image id. */
  config: Buffer;
  /** Layer blob descriptors, in rootfs.diff_ids order (already in the content store, layers unpacked). */
  layers: Descriptor[];
  /** A manifest to keep as is (pull, OCI load); else an OCI manifest is made. */
  manifest?: Buffer;
  parent?: string;
}

type Repositories = Record<string, Record<string, string>>;

export class ImageStore {
  readonly content: ContentStore;
  readonly layers: LayerStore;
  private readonly dir: string;
  private readonly reposFile: string;
  private readonly records = new Map<string, ImageRecord>();
  private repos: Repositories;
  private readonly configs = new Map<string, ImageConfig>();
  private readonly root: string;
  private flushing: Promise<void> = Promise.resolve();

  /** `trash`: where removals go first (the data root's, shared with the other stores; its own under `root` otherwise). */
  constructor(root: string, limits?: DecompressionLimits, private readonly trash = new Trash(path.join(root, 'trash'))) {
    this.root = root;
    this.content = new ContentStore(root);
    this.layers = new LayerStore(root, limits);
    this.dir = path.join(root, 'images');
    fs.mkdirSync(this.dir, { recursive: true });
    this.reposFile = path.join(this.dir, 'repositories.json');
    this.repos = readJson<{ Repositories: Repositories }>(this.reposFile)?.Repositories ?? {};
    for (const name of fs.readdirSync(this.dir)) {
      if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
      const rec = readJson<ImageRecord>(path.join(this.dir, name));
      if (rec) this.records.set(rec.id, rec);
    }
  }

  get(id: string): ImageRecord | undefined {
    return this.records.get(id);
  }

  all(): ImageRecord[] {
    return [...this.records.values()];
  }

  config(id: string): ImageConfig {
    let cfg = this.configs.get(id);
    if (!cfg) {
      cfg = this.content.readJson<ImageConfig>(id);
      this.configs.set(id, cfg);
    }
    return cfg;
  }

  manifest(rec: ImageRecord): Manifest {
    return this.content.readJson<Manifest>(rec.manifest);
  }

  pieces(rec: ImageRecord): Pieces {
    const m = this.manifest(rec);
    const blobs = [rec.id, rec.manifest, ...m.layers.map((l) => l.digest), ...(rec.index ? [rec.index] : [])];
    return { blobs, layers: this.config(rec.id).rootfs.diff_ids };
  }

  /** Why a record is not whole, or undefined when every piece is there. */
  missing(rec: ImageRecord): string | undefined {
    for (const d of [rec.id, rec.manifest]) if (!this.content.has(d)) return `blob ${d}`;
    let pieces: Pieces;
    try {
      pieces = this.pieces(rec);
    } catch (e) {
      return (e as Error).message;
    }
    for (const d of pieces.blobs) if (!this.content.has(d)) return `blob ${d}`;
    for (const l of pieces.layers) if (!this.layers.has(l)) return `layer ${l}`;
    return undefined;
  }

  /**
   * Make every blob and layer written with 'deferred' durability durable: one syncfs of the data root instead of an
   * fsync per piece. Waits for a flush already under way (it covers what was written before it started).
   */
  async flush(): Promise<void> {
    if (this.content.dirty || this.layers.dirty) {
      this.content.dirty = this.layers.dirty = false;
      this.flushing = syncfs(this.root).catch((e: Error) => {
        this.content.dirty = this.layers.dirty = true;
        throw e;
      });
    }
    await this.flushing;
  }

  /** Store config + manifest and write the record (the commit point), once everything it names is present and durable. */
  async create(img: NewImage, lease?: Lease): Promise<ImageRecord> {
    const cfg = JSON.parse(img.config.toString('utf8')) as ImageConfig;
    if (cfg.rootfs?.type !== 'layers' || !Array.isArray(cfg.rootfs.diff_ids)) throw new Error('image config has no rootfs.diff_ids');
    if (cfg.rootfs.diff_ids.length !== img.layers.length) {
      throw new Error(`image config names ${cfg.rootfs.diff_ids.length} layers but ${img.layers.length} were given`);
    }
    img.layers.forEach((l, i) => {
      if (!this.content.has(l.digest)) throw new Error(`layer blob ${l.digest} is not in the content store`);
      if (!this.layers.has(cfg.rootfs.diff_ids[i])) throw new Error(`layer ${cfg.rootfs.diff_ids[i]} is not unpacked`);
    });
    // with pieces written 'deferred' (a pull) the flush below syncs anyway: config and manifest need no fsyncs of their own
    const durability = this.content.dirty || this.layers.dirty ? 'deferred' : 'fsync';
    const config = await this.content.ingest(img.config, {}, lease, durability);
    const manifestBytes =
      img.manifest ??
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
          layers: img.layers,
        } satisfies Manifest),
      );
    const manifest = await this.content.ingest(manifestBytes, {}, lease, durability);
    const rec: ImageRecord = { id: config.digest, manifest: manifest.digest, created: new Date().toISOString() };
    if (img.parent) rec.parent = img.parent;
    await this.flush();
    const prev = this.records.get(rec.id);
    if (prev) return prev;
    const why = this.missing(rec);
    if (why) throw new Error(`image ${rec.id} is incomplete: missing ${why}`);
    this.writeRecord(rec);
    return rec;
  }

  /**
   * Make images of different platforms one multi-platform image: an OCI index of their manifests, held by the entry
   * of `preferred` (else the first), the record tags point at. The other entries are written first, the holder last
   * (the commit point: until then they are plain untagged images).
   */
  async createIndex(entries: ImageRecord[], preferred: Platform): Promise<ImageRecord> {
    const platforms = entries.map((r) => configPlatform(this.config(r.id)));
    const manifests: Descriptor[] = entries.map((r, i) => ({
      mediaType: this.manifest(r).mediaType ?? MediaType.ociManifest, digest: r.manifest, size: this.content.size(r.manifest), platform: platforms[i],
    }));
    const index = await this.content.ingest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests } satisfies Index)));
    const at = Math.max(0, platforms.findIndex((p) => platformMatches(p, preferred)));
    const holder = entries[at];
    for (const r of entries) if (r !== holder) this.writeRecord({ ...r, platformOf: holder.id });
    await this.flush();
    const rec: ImageRecord = { ...holder, index: index.digest };
    delete rec.platformOf;
    this.writeRecord(rec);
    return rec;
  }

  writeRecord(rec: ImageRecord): void {
    writeJsonAtomic(path.join(this.dir, `${rec.id.slice(7)}.json`), rec);
    this.records.set(rec.id, rec);
  }

  /** The record goes first, in one rename into the trash: a crash after it leaves references to nothing, which the
   *  next start drops (repairRecords); a crash before it leaves the image whole, every tag still on it. */
  deleteRecord(id: string): void {
    this.trash.discard(path.join(this.dir, `${id.slice(7)}.json`), 'image', id.slice(7));
    for (const ref of this.refsOf(id)) this.removeRef(ref);
    this.records.delete(id);
    this.configs.delete(id);
  }

  /** Image id a full reference (tag or digest) points at. */
  lookup(ref: Reference): string | undefined {
    return this.repos[repoName(ref)]?.[fullString(ref)];
  }

  /** Every reference pointing at an image, tags before digests, sorted. */
  refsOf(id: string): Reference[] {
    const out: Reference[] = [];
    for (const refs of Object.values(this.repos)) for (const [ref, target] of Object.entries(refs)) if (target === id) out.push(parseStored(ref));
    return out.sort((a, b) => Number(!!a.digest) - Number(!!b.digest) || fullString(a).localeCompare(fullString(b)));
  }

  /** Every reference with the image id it points at. */
  references(): { ref: Reference; id: string }[] {
    return Object.values(this.repos).flatMap((refs) => Object.entries(refs).map(([ref, id]) => ({ ref: parseStored(ref), id })));
  }

  /** Tags of one repository (for `save busybox`). */
  tagsOf(repo: string): Reference[] {
    return Object.keys(this.repos[repo] ?? {}).map(parseStored).filter((r) => r.tag !== undefined && !r.digest);
  }

  /** Point a reference at an image; returns the image it pointed at before, if another. */
  setRef(ref: Reference, id: string): string | undefined {
    const prev = this.lookup(ref);
    this.repos = { ...this.repos, [repoName(ref)]: { ...(this.repos[repoName(ref)] ?? {}), [fullString(ref)]: id } };
    this.saveRepos();
    const rec = this.records.get(id);
    if (rec && ref.tag !== undefined) this.writeRecord({ ...rec, lastTagTime: new Date().toISOString() });
    return prev !== id ? prev : undefined;
  }

  removeRef(ref: Reference): void {
    const repo = repoName(ref);
    const refs = { ...(this.repos[repo] ?? {}) };
    delete refs[fullString(ref)];
    const next = { ...this.repos };
    if (Object.keys(refs).length) next[repo] = refs;
    else delete next[repo];
    this.repos = next;
    this.saveRepos();
  }

  private saveRepos(): void {
    writeJsonAtomic(this.reposFile, { Repositories: this.repos });
  }

  /** Drop references whose image is gone and records whose pieces are gone; remove temps. Returns removed record ids. */
  repairRecords(): string[] {
    removeStaleTemps(this.dir);
    const removed: string[] = [];
    for (const rec of this.all()) {
      if (this.missing(rec)) {
        this.deleteRecord(rec.id);
        removed.push(rec.id);
      }
    }
    for (const refs of Object.values(this.repos)) {
      for (const [ref, id] of Object.entries(refs)) if (!this.records.has(id)) this.removeRef(parseStored(ref));
    }
    return removed;
  }
}
