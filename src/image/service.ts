/**
 * The image service behind /images/*: lookups, listing, tag/untag, remove/prune with docker's rules, import, save, load.
 * Over ~400 lines: one service per noun, as in the other folders; its parts (archives, commit, `--change`) are
 * modules already, what is left is docker's rules, each short.
 */
import type { Readable, Writable } from 'node:stream';
import { ApiError, badRequest, conflict, notFound } from '../common/errors';
import { parseTimestamp } from '../common/duration';
import { checkFilterKeys, type Filters } from '../common/filters';
import { shortId } from '../common/ids';
import { log } from '../common/log';
import { sniffFile, type DecompressionLimits } from '../store/compression';
import { Leases, type Lease } from '../store/leases';
import type { Trash } from '../store/trash';
import { ArchiveError, readArchive, save as saveArchive, type SaveItem } from './archive';
import { applyChanges } from './changes';
import {
  familiarString, isShortId, parseAnyReference, parseNormalizedNamed, repoName, tagNameOnly, validateTag, type Reference,
} from './reference';
import { configPlatform, formatPlatform, goArch, parsePlatform, platformMatches, selectManifest } from './platform';
import { ImageStore, type ImageRecord } from './store';
import { layerMediaType, type ImageConfig, type Index } from './types';
import * as view from './view';

export type Emit = (action: string, id: string, attrs: Record<string, string>) => void;

/** A container using an image; a bare id counts as a stopped container. */
export type ContainerUse = string | { id: string; running: boolean };
export type UsedBy = (imageId: string) => ContainerUse[];

export type DeleteItem = { Untagged: string } | { Deleted: string };

export interface ImportOptions {
  repo?: string;
  tag?: string;
  changes?: string[];
  message?: string;
  /** Seconds since the epoch for `created` (SOURCE_DATE_EPOCH), so the same tarball gives the same image id. */
  sourceDateEpoch?: number;
  /** `import --platform`: the os/architecture the image says it is for (the host's by default). */
  platform?: string;
}

export interface RepairReport {
  temps: number;
  halfLayers: number;
  records: string[];
  blobs: number;
  layers: number;
}

/** Turn reference/filter/changes parse errors into 400s with their own message. */
function asBadRequest<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw badRequest((e as Error).message);
  }
}

export class ImageService {
  readonly store: ImageStore;
  private readonly leases = new Leases();

  /** `limits`: what an untrusted layer or archive may decompress to (berthd --max-layer-size, --max-layer-ratio). */
  constructor(root: string, private readonly emit: Emit, limits?: DecompressionLimits, trash?: Trash) {
    this.store = new ImageStore(root, limits, trash);
  }

  // ---- lookups ----

  /** By name[:tag], name@digest, full or short id, `sha256:` id; undefined when nothing matches or the ref is invalid. */
  resolve(ref: string): ImageRecord | undefined {
    try {
      return this.find(ref);
    } catch {
      return undefined;
    }
  }

  /** Like resolve; throws 404 `No such image: ...` (docker's wording) or 400 for an invalid reference. */
  get(ref: string): ImageRecord {
    const rec = this.find(ref);
    if (rec) return rec;
    const parsed = asBadRequest(() => parseAnyReference(ref));
    throw notFound(`No such image: ${'id' in parsed ? parsed.id : familiarString(tagNameOnly(parsed))}`);
  }

  private find(ref: string): ImageRecord | undefined {
    const parsed = asBadRequest(() => parseAnyReference(ref));
    if ('id' in parsed) return this.store.get(parsed.id);
    const id = this.store.lookup(tagNameOnly(parsed));
    if (id) return this.store.get(id);
    return this.byIdPrefix(ref);
  }

  /**
   * The image `ref` names for a platform: the record itself when it is of that platform, else its index's entry for it
   * (a multi-platform build); a 404 with docker's wording when neither is (the CLI pulls on a 404).
   */
  forPlatform(ref: string, platform: string): ImageRecord {
    const want = asBadRequest(() => parsePlatform(platform));
    const rec = this.get(ref);
    const have = configPlatform(this.config(rec.id));
    if (platformMatches(have, want)) return rec;
    if (rec.index) {
      const desc = selectManifest(this.store.content.readJson<Index>(rec.index).manifests, want);
      const entry = desc && this.store.all().find((r) => r.manifest === desc.digest);
      if (entry) return entry;
    }
    throw notFound(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(want)}, actual: ${formatPlatform(have)}`);
  }

  /** An entry of a multi-platform image whose holder still lives: not listed on its own, not pruned. */
  private held(rec: ImageRecord): boolean {
    return rec.platformOf !== undefined && this.store.get(rec.platformOf)?.index !== undefined;
  }

  private byIdPrefix(s: string): ImageRecord | undefined {
    if (!isShortId(s)) return undefined;
    const hex = s.replace(/^sha256:/, '');
    const hits = this.store.all().filter((r) => r.id.slice(7).startsWith(hex));
    return hits.length === 1 ? hits[0] : undefined;
  }

  config(id: string): ImageConfig {
    return this.store.config(id);
  }

  /** Overlay lower dirs, top layer first. */
  layerDirs(id: string): string[] {
    return this.store.layers.lowerDirs(this.store.config(id).rootfs.diff_ids);
  }

  // ---- views ----

  list(opts: { all?: boolean; filters?: Filters } = {}): view.ImageSummary[] {
    const filters = opts.filters ?? {};
    const { dangling, before, since } = asBadRequest(() => {
      checkFilterKeys(filters, ['dangling', 'label', 'before', 'since', 'reference', 'until']);
      const at = (key: string): number | undefined => (filters[key]?.length ? Date.parse(this.config(this.get(filters[key][0]).id).created ?? '') : undefined);
      return { dangling: view.danglingFilter(filters), before: at('before'), since: at('since') };
    });
    const until = filters.until?.length ? asBadRequest(() => parseTimestamp(filters.until[0])) : undefined;
    const hasChildren = new Set(this.store.all().map((r) => r.parent).filter(Boolean));
    const out: view.ImageSummary[] = [];
    for (const rec of this.store.all()) {
      const cfg = this.config(rec.id);
      const created = Date.parse(cfg.created ?? '') || 0;
      if (before !== undefined && !(created < before)) continue;
      if (since !== undefined && !(created > since)) continue;
      if (until !== undefined && !(created < until)) continue;
      if (filters.label && !view.labelsMatch(filters.label, cfg.config?.Labels)) continue;
      let refs = this.store.refsOf(rec.id);
      const tagged = refs.some((r) => !r.digest);
      if (dangling !== undefined && dangling === tagged) continue;
      if (filters.reference) {
        refs = refs.filter((r) => filters.reference.some((p) => view.referenceMatches(p, r)));
        if (refs.length === 0) continue;
      }
      if (refs.length === 0 && !opts.all && (hasChildren.has(rec.id) || this.held(rec))) continue;
      out.push(view.summary(this.store, rec, refs));
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  /**
   * Disk usage (GET /system/df): the bytes of every stored layer, and the top-level images with `SharedSize`, the
   * bytes of their layers that another image uses too (as dockerd counts them).
   */
  usage(): { layersSize: number; images: view.ImageSummary[] } {
    const users = new Map<string, number>();
    for (const rec of this.store.all()) {
      for (const d of new Set(this.config(rec.id).rootfs.diff_ids)) users.set(d, (users.get(d) ?? 0) + 1);
    }
    const images = this.list().map((img) => {
      const layers = new Set(this.config(img.Id).rootfs.diff_ids);
      const shared = [...layers].filter((d) => (users.get(d) ?? 0) > 1).reduce((n, d) => n + this.store.layers.size(d), 0);
      return { ...img, SharedSize: shared };
    });
    const layersSize = this.store.layers.list().reduce((n, d) => n + this.store.layers.size(d), 0);
    return { layersSize, images };
  }

  inspect(ref: string): Record<string, unknown> {
    return view.inspect(this.store, this.get(ref));
  }

  history(ref: string): view.HistoryItem[] {
    return view.history(this.store, this.get(ref));
  }

  // ---- tags ----

  tag(ref: string, repo: string, tag?: string): void {
    const rec = this.get(ref);
    const target = asBadRequest(() => {
      const named = parseNormalizedNamed(repo);
      if (named.digest) throw new Error('refusing to create a tag with a digest reference');
      return tag ? { ...named, tag: validateTag(tag) } : tagNameOnly(named);
    });
    this.setTag(rec.id, target);
  }

  /** Point a tag at an image (also used by import/load/build); emits `tag`. */
  setTag(id: string, ref: Reference): string | undefined {
    const prev = this.store.setRef(ref, id);
    this.emit('tag', id, this.attrs(id, familiarString(ref)));
    return prev;
  }

  private attrs(id: string, name: string): Record<string, string> {
    return { ...(this.store.get(id) ? this.config(id).config?.Labels ?? {} : {}), name };
  }

  // ---- remove / prune ----

  async remove(ref: string, opts: { force?: boolean; noprune?: boolean }, usedBy: UsedBy): Promise<DeleteItem[]> {
    const rec = this.get(ref);
    const id = rec.id;
    const uses = usedBy(id).map((u) => (typeof u === 'string' ? { id: u, running: false } : u));
    const records: DeleteItem[] = [];
    let refs = this.store.refsOf(id);
    let quiet = false;
    if (!isIdPrefix(id, ref)) {
      if (!opts.force && isSingleReference(refs) && uses.length) {
        throw conflict(`conflict: unable to remove repository reference "${ref}" (must force) - container ${shortId(uses[0].id)} is using its referenced image ${shortId(id)}`);
      }
      const named = tagNameOnly(asBadRequest(() => parseNormalizedNamed(ref)));
      this.untag(id, named, records);
      refs = this.store.refsOf(id);
      if (!named.digest && !refs.some((r) => !r.digest && repoName(r) === repoName(named))) {
        for (const r of refs.filter((r) => r.digest && repoName(r) === repoName(named))) this.untag(id, r, records);
        refs = this.store.refsOf(id);
      }
      if (refs.length > 0) return records;
      quiet = true;
    } else if (isSingleReference(refs)) {
      this.checkConflicts(id, uses, !!opts.force, false);
      for (const r of refs) this.untag(id, r, records);
    }
    await this.deleteImage(id, uses, records, { force: !!opts.force, prune: !opts.noprune, quiet }, usedBy);
    return records;
  }

  private untag(id: string, ref: Reference, records: DeleteItem[]): void {
    this.store.removeRef(ref);
    records.push({ Untagged: familiarString(ref) });
    this.emit('untag', id, this.attrs(id, id));
  }

  /** docker's checkImageDeleteConflict: hard conflicts always, soft ones unless forced. Returns the conflict. */
  private conflictOf(id: string, uses: { id: string; running: boolean }[], force: boolean, activeRefs: boolean): { msg: string; hard: boolean; used: boolean } | undefined {
    if (this.store.all().some((r) => r.parent === id)) return { msg: 'image has dependent child images', hard: true, used: false };
    const running = uses.find((u) => u.running);
    if (running) return { msg: `image is being used by running container ${shortId(running.id)}`, hard: true, used: true };
    if (force) return undefined;
    if (activeRefs && this.store.refsOf(id).length > 0) return { msg: 'image is referenced in multiple repositories', hard: false, used: false };
    const stopped = uses.find((u) => !u.running);
    if (stopped) return { msg: `image is being used by stopped container ${shortId(stopped.id)}`, hard: false, used: true };
    return undefined;
  }

  private checkConflicts(id: string, uses: { id: string; running: boolean }[], force: boolean, activeRefs: boolean): void {
    const c = this.conflictOf(id, uses, force, activeRefs);
    if (c) throw conflict(`conflict: unable to delete ${shortId(id)} (${c.hard ? 'cannot be forced' : 'must be forced'}) - ${c.msg}`);
  }

  private async deleteImage(
    id: string,
    uses: { id: string; running: boolean }[],
    records: DeleteItem[],
    opts: { force: boolean; prune: boolean; quiet: boolean },
    usedBy: UsedBy,
  ): Promise<void> {
    const c = this.conflictOf(id, uses, opts.force, true);
    if (c) {
      const dangling = this.store.refsOf(id).length === 0;
      if (opts.quiet && (!dangling || c.used)) return;
      this.checkConflicts(id, uses, opts.force, true);
    }
    // Unlike docker, a forced removal keeps an image a stopped container still runs from: its layers are its rootfs.
    if (uses.length) return;
    const rec = this.store.get(id) as ImageRecord;
    const refs = this.store.refsOf(id);
    const attrs = this.attrs(id, id);
    const removedLayers = this.dropImage(rec); // the record first, its references with it (ImageStore.deleteRecord)
    for (const r of refs) {
      records.push({ Untagged: familiarString(r) });
      this.emit('untag', id, attrs);
    }
    this.emit('delete', id, { name: id });
    records.push({ Deleted: id });
    for (const l of removedLayers) records.push({ Deleted: l });
    const parent = rec.parent ? this.store.get(rec.parent) : undefined;
    if (opts.prune && parent && this.store.refsOf(parent.id).length === 0 && !this.store.all().some((r) => r.parent === parent.id)) {
      const parentUses = usedBy(parent.id).map((u) => (typeof u === 'string' ? { id: u, running: false } : u));
      await this.deleteImage(parent.id, parentUses, records, { ...opts, quiet: true }, usedBy);
    }
    // A multi-platform image goes with its other platforms (those no tag or container holds on its own).
    for (const entry of rec.index ? this.store.all().filter((r) => r.platformOf === id && this.store.refsOf(r.id).length === 0) : []) {
      const entryUses = usedBy(entry.id).map((u) => (typeof u === 'string' ? { id: u, running: false } : u));
      await this.deleteImage(entry.id, entryUses, records, { ...opts, quiet: true }, usedBy);
    }
  }

  /** Delete the record, then every blob and layer of it that no other image and no operation in progress uses. */
  private dropImage(rec: ImageRecord): string[] {
    const pieces = this.store.pieces(rec);
    this.store.deleteRecord(rec.id);
    const keep = { blobs: new Set<string>(), layers: new Set<string>() };
    for (const other of this.store.all()) {
      const p = this.store.pieces(other);
      p.blobs.forEach((b) => keep.blobs.add(b));
      p.layers.forEach((l) => keep.layers.add(l));
    }
    for (const b of new Set(pieces.blobs)) if (!keep.blobs.has(b) && !this.leases.has(`blob:${b}`)) this.store.content.delete(b);
    const removed: string[] = [];
    for (const l of new Set(pieces.layers)) {
      if (keep.layers.has(l) || this.leases.has(`layer:${l}`)) continue;
      this.store.layers.delete(l);
      removed.push(l);
    }
    return removed;
  }

  async prune(opts: { dangling?: boolean; filters?: Filters }, usedBy: UsedBy): Promise<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }> {
    const filters = opts.filters ?? {};
    const { danglingOnly, until } = asBadRequest(() => {
      checkFilterKeys(filters, ['dangling', 'label', 'label!', 'until']);
      return { danglingOnly: opts.dangling ?? view.danglingFilter(filters) ?? true, until: filters.until?.length ? parseTimestamp(filters.until[0]) : undefined };
    });
    const records: DeleteItem[] = [];
    let space = 0;
    for (const rec of this.store.all()) {
      if (!this.store.get(rec.id)) continue; // removed as a parent meanwhile
      const cfg = this.config(rec.id);
      if (danglingOnly && this.store.refsOf(rec.id).length > 0) continue;
      if (usedBy(rec.id).length > 0) continue;
      if (until !== undefined && !((Date.parse(cfg.created ?? '') || 0) < until)) continue;
      if (filters.label && !view.labelsMatch(filters.label, cfg.config?.Labels)) continue;
      if (filters['label!'] && filters['label!'].some((l) => view.labelsMatch([l], cfg.config?.Labels))) continue;
      if (this.store.all().some((r) => r.parent === rec.id) || this.held(rec)) continue;
      const sizes = new Map(cfg.rootfs.diff_ids.map((d) => [d, this.store.layers.size(d)]));
      const before = records.length;
      await this.deleteImage(rec.id, [], records, { force: true, prune: true, quiet: false }, usedBy);
      for (const r of records.slice(before)) if ('Deleted' in r && sizes.has(r.Deleted)) space += sizes.get(r.Deleted) as number;
    }
    this.emit('prune', '', { reclaimed: String(space) });
    return { ImagesDeleted: records.length ? records : null, SpaceReclaimed: space };
  }

  // ---- import / save / load ----

  /** A rootfs tarball (plain, gzip or zstd) becomes a one-layer image. Returns the image id. */
  async importTar(src: Readable, opts: ImportOptions = {}): Promise<string> {
    const changes = asBadRequest(() => applyChanges({}, opts.changes ?? []));
    const ref = opts.repo ? asBadRequest(() => {
      const named = parseNormalizedNamed(opts.repo as string);
      if (named.digest) throw new Error('cannot import digest reference');
      return opts.tag ? { ...named, tag: validateTag(opts.tag) } : tagNameOnly(named);
    }) : undefined;
    return this.withLease(async (lease) => {
      const blob = await this.store.content.ingest(src, {}, lease);
      const layer = await this.store.layers.unpack(this.store.content.read(blob.digest), { lease }).catch((e: Error) => {
        throw badRequest(e.message);
      });
      // an epoch has whole seconds: written as Go's RFC 3339 (no ".000"), as docker's reproducible builds show it
      const created = opts.sourceDateEpoch !== undefined ? new Date(opts.sourceDateEpoch * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString();
      const { os, architecture, variant } = asBadRequest(() => (opts.platform ? parsePlatform(opts.platform) : { os: 'linux', architecture: goArch(), variant: undefined }));
      const cfg: ImageConfig = {
        architecture,
        os,
        ...(variant ? { variant } : {}),
        created,
        ...(opts.message ? { comment: opts.message } : {}),
        config: changes,
        rootfs: { type: 'layers', diff_ids: [layer.diffId] },
        history: [{ created, ...(opts.message ? { comment: opts.message } : {}) }],
      };
      const mediaType = layerMediaType(sniffFile(this.store.content.path(blob.digest)));
      const rec = await this.store.create({ config: Buffer.from(JSON.stringify(cfg)), layers: [{ mediaType, digest: blob.digest, size: blob.size }] }, lease);
      if (ref) this.setTag(rec.id, ref);
      this.emit('import', rec.id, this.attrs(rec.id, rec.id));
      return rec.id;
    });
  }

  /** `docker save`: a name without a tag saves every tag of that repository; an id saves the image untagged. */
  async save(refs: string[], out: Writable): Promise<void> {
    const items = new Map<string, SaveItem>();
    for (const ref of refs) {
      const rec = this.get(ref);
      const item = items.get(rec.id) ?? { rec, tags: [] };
      items.set(rec.id, item);
      const parsed = parseAnyReference(ref);
      if ('id' in parsed || isIdPrefix(rec.id, ref)) continue;
      const tags = parsed.tag === undefined && !parsed.digest ? this.store.tagsOf(repoName(parsed)) : parsed.digest ? [] : [parsed];
      for (const t of tags) {
        const id = this.store.lookup(t) as string;
        const it = items.get(id) ?? { rec: this.store.get(id) as ImageRecord, tags: [] };
        if (!it.tags.some((x) => familiarString(x) === familiarString(t))) it.tags.push(t);
        items.set(id, it);
      }
    }
    await saveArchive(this.store, [...items.values()], out);
    for (const id of items.keys()) this.emit('save', id, this.attrs(id, id));
  }

  /** `docker load`: docker-archive or OCI archive. All or nothing: a bad archive is refused and leaves nothing. */
  async load(src: Readable): Promise<string[]> {
    return this.withLease(async (lease) => {
      const images = await readArchive(this.store, src, lease).catch((e: Error) => {
        throw e instanceof ArchiveError || e instanceof ApiError ? badRequest(e.message) : e;
      });
      const recs: ImageRecord[] = [];
      for (const img of images) recs.push(await this.store.create(img, lease).catch((e: Error) => Promise.reject(badRequest(e.message))));
      const messages: string[] = [];
      images.forEach((img, i) => {
        const id = recs[i].id;
        for (const t of img.tags) {
          const prev = this.store.lookup(t);
          if (prev && prev !== id) messages.push(`The image ${familiarString(t)} already exists, renaming the old one with ID ${prev} to empty string`);
          this.setTag(id, t);
          messages.push(`Loaded image: ${familiarString(t)}`);
        }
        if (img.tags.length === 0) messages.push(`Loaded image ID: ${id}`);
        this.emit('load', id, this.attrs(id, id));
      });
      return messages;
    });
  }

  /** Run an operation under a lease; on failure remove whatever it added that no image references. */
  async withLease<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = this.leases.acquire();
    try {
      return await fn(lease);
    } catch (e) {
      this.discard(lease);
      throw e;
    } finally {
      lease.release();
    }
  }

  private discard(lease: Lease): void {
    const used = this.referenced();
    for (const key of lease.keys) {
      if (this.leases.has(key, lease)) continue;
      const [kind, digest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      if (kind === 'blob' && !used.blobs.has(digest)) this.store.content.delete(digest);
      if (kind === 'layer' && !used.layers.has(digest)) this.store.layers.delete(digest);
    }
  }

  private referenced(): { blobs: Set<string>; layers: Set<string> } {
    const blobs = new Set<string>();
    const layers = new Set<string>();
    for (const rec of this.store.all()) {
      const p = this.store.pieces(rec);
      p.blobs.forEach((b) => blobs.add(b));
      p.layers.forEach((l) => layers.add(l));
    }
    return { blobs, layers };
  }

  /** An import, load, pull, commit or build is writing pieces (their temps and unrecorded pieces are not leftovers). */
  busy(): boolean {
    return this.leases.active.size > 0;
  }

  /** `system check --repair`: remove an image found broken, and its pieces no other image uses. */
  removeBroken(id: string): void {
    const rec = this.store.get(id);
    if (!rec) return;
    try {
      this.dropImage(rec);
    } catch {
      this.store.deleteRecord(id); // its manifest is unreadable: its pieces are found unreferenced by repair()
    }
    this.emit('delete', id, { name: id });
  }

  // ---- crash repair ----

  /** At daemon start: remove temps and half-unpacked layers, records missing pieces, and unreferenced blobs/layers. */
  async repair(): Promise<RepairReport> {
    const temps = this.store.content.clearIngest();
    const halfLayers = this.store.layers.repair();
    const records = this.store.repairRecords();
    const used = this.referenced();
    let blobs = 0;
    let layers = 0;
    for (const b of this.store.content.list()) if (!used.blobs.has(b)) (this.store.content.delete(b), blobs++);
    for (const l of this.store.layers.list()) if (!used.layers.has(l)) (this.store.layers.delete(l), layers++);
    const report = { temps, halfLayers, records, blobs, layers };
    if (temps || halfLayers || records.length || blobs || layers) log.info('image store repaired', { ...report });
    return report;
  }
}

/** docker's isImageIDPrefix. */
const isIdPrefix = (id: string, ref: string): boolean => id.startsWith(ref) || id.slice(7).startsWith(ref);

/** docker's isSingleReference: at most one tag, and any digests are of that tag's repository. */
function isSingleReference(refs: Reference[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const digestRepos = new Set<string>();
  let single: Reference | undefined;
  for (const r of refs) {
    if (r.digest) digestRepos.add(repoName(r));
    else if (!single) single = r;
    else return false;
  }
  return digestRepos.size === 1 && digestRepos.has(repoName(single ?? refs[0]));
}
