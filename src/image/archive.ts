/**
 * `docker save` / `docker load` archives. save writes both a docker-archive (manifest.json, repositories) and an OCI
 * image layout (index.json, oci-layout, blobs/sha256) in one tar, as Docker 25+ does. load reads docker-archive
 * (current and per-layer-dir form) and OCI layouts, verifying every digest and diffID.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline, type Readable, type Writable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { decompressed, sniffFile } from '../store/compression';
import { isStorableDigest } from '../store/content';
import type { Lease } from '../store/leases';
import { components } from '../store/tarpolicy';
import { familiarName, familiarString, fullString, parseNormalizedNamed, type Reference } from './reference';
import type { ImageRecord, ImageStore } from './store';
import { IMAGE_MANIFEST_TYPES, INDEX_TYPES, LAYER_TYPES, layerMediaType, MediaType, type Descriptor, type ImageConfig, type Manifest } from './types';

export class ArchiveError extends Error {}

export interface SaveItem {
  rec: ImageRecord;
  tags: Reference[];
}

const blobName = (digest: string): string => `blobs/sha256/${digest.slice(7)}`;
const epoch = new Date(0);

/** Write the images as one tar to `out`. */
export async function save(store: ImageStore, items: SaveItem[], out: Writable): Promise<void> {
  const pack = tarStream.pack();
  const done = new Promise<void>((resolve, reject) => pipeline(pack as unknown as Readable, out, (e) => (e ? reject(e) : resolve())));
  // A client that goes away mid-save fails the pipeline: every pending step must fail with it, not hang.
  const step = (p: Promise<void>): Promise<void> => Promise.race([p, done.then(() => p)]);
  const add = (name: string, data: Buffer | string): Promise<void> =>
    step(new Promise((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: epoch, uid: 0, gid: 0 }, data, (e) => (e ? reject(e) : resolve()))));
  const dir = (name: string): Promise<void> =>
    step(new Promise((resolve, reject) => pack.entry({ name, type: 'directory', mode: 0o755, mtime: epoch, uid: 0, gid: 0 }, (e) => (e ? reject(e) : resolve()))));
  const written = new Set<string>();
  const dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const index: Descriptor[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  try {
    await dir('blobs/');
    await dir('blobs/sha256/');
    for (const { rec, tags } of items) {
      const cfg = store.config(rec.id);
      const manifest = store.manifest(rec);
      for (const [i, diffId] of cfg.rootfs.diff_ids.entries()) {
        if (written.has(diffId)) continue;
        await step(addLayer(store, pack, diffId, manifest.layers[i].digest));
        written.add(diffId);
      }
      if (!written.has(rec.id)) await add(blobName(rec.id), store.content.readBuffer(rec.id));
      written.add(rec.id);
      const oci: Manifest = {
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: rec.id, size: store.content.size(rec.id) },
        layers: cfg.rootfs.diff_ids.map((d) => ({ mediaType: MediaType.ociLayer, digest: d, size: store.layers.size(d) })),
      };
      const ociBytes = Buffer.from(JSON.stringify(oci));
      const ociDigest = `sha256:${crypto.createHash('sha256').update(ociBytes).digest('hex')}`;
      if (!written.has(ociDigest)) await add(blobName(ociDigest), ociBytes);
      written.add(ociDigest);
      const desc: Descriptor = { mediaType: MediaType.ociManifest, digest: ociDigest, size: ociBytes.length };
      if (tags.length === 0) index.push(desc);
      for (const t of tags) {
        index.push({ ...desc, annotations: { 'io.containerd.image.name': fullString(t), 'org.opencontainers.image.ref.name': t.tag ?? '' } });
        (repositories[familiarName(t)] ??= {})[t.tag ?? 'latest'] = cfg.rootfs.diff_ids.at(-1)?.slice(7) ?? '';
      }
      dockerManifest.push({ Config: blobName(rec.id), RepoTags: tags.length ? tags.map(familiarString) : null, Layers: cfg.rootfs.diff_ids.map(blobName) });
    }
    await add('index.json', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: index }));
    await add('manifest.json', JSON.stringify(dockerManifest));
    await add('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    if (Object.keys(repositories).length) await add('repositories', JSON.stringify(repositories));
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    throw e;
  }
  await done;
}

/** Layers are saved uncompressed (blob name = diffID), decompressed from the stored blob and checked on the way. */
async function addLayer(store: ImageStore, pack: tarStream.Pack, diffId: string, blob: string): Promise<void> {
  const size = store.layers.size(diffId);
  const entryDone = new Promise<void>((resolve, reject) => {
    const sink = pack.entry({ name: blobName(diffId), size, mode: 0o644, mtime: epoch, uid: 0, gid: 0 }, (e) => (e ? reject(e) : resolve()));
    const hash = crypto.createHash('sha256');
    (async () => {
      const { stream } = await decompressed(store.content.read(blob));
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        if (!sink.write(chunk)) await new Promise<void>((r) => sink.once('drain', () => r()));
      }
      if (`sha256:${hash.digest('hex')}` !== diffId) throw new Error(`layer blob ${blob} does not match its diffID ${diffId}`);
      sink.end(undefined);
    })().catch((e: Error) => {
      sink.destroy(e);
      reject(e);
    });
  });
  await entryDone;
}

// ---- load ----

/** A file of the archive, hashed while it was spooled to a temp file. */
interface Spooled {
  tmp: string;
  digest: string;
  size: number;
}

export interface LoadedImage {
  config: Buffer;
  layers: Descriptor[];
  manifest?: Buffer;
  tags: Reference[];
}

/** Read an archive: spool its files, then verify and unpack every image's layers. Nothing is recorded here. */
export async function readArchive(store: ImageStore, src: Readable, lease: Lease): Promise<LoadedImage[]> {
  const files = new Map<string, Spooled>();
  const links = new Map<string, string>();
  try {
    // docker load also takes .tar.gz; the layer limits bound what a compressed archive may expand to on disk
    await spool(store, (await decompressed(src, store.layers.limits)).stream, files, links);
    const get = (name: string): Spooled => {
      let n = path.posix.normalize(name).replace(/^\.\//, '');
      for (let hops = 0; links.has(n); hops++) {
        if (hops > 16) throw new ArchiveError(`too many symlinks resolving ${name}`);
        n = links.get(n) as string;
      }
      const f = files.get(n);
      if (!f) throw new ArchiveError(`${name} is missing from the archive`);
      return f;
    };
    const json = (name: string): unknown => {
      try {
        return JSON.parse(fs.readFileSync(get(name).tmp, 'utf8'));
      } catch (e) {
        throw e instanceof ArchiveError ? e : new ArchiveError(`${name}: ${(e as Error).message}`);
      }
    };
    let images: { configName: string; configDigest?: string; layerNames: string[]; manifest?: Buffer; tags: Reference[] }[];
    if (files.has('manifest.json')) images = dockerArchive(json('manifest.json'));
    else if (files.has('index.json')) images = ociLayout(json('index.json'), (d) => fs.readFileSync(get(blobName(d)).tmp), (d) => get(blobName(d)).digest);
    else throw new ArchiveError('neither manifest.json nor index.json found: not a docker save or OCI archive');

    const out: LoadedImage[] = [];
    for (const img of images) {
      const cfgFile = get(img.configName);
      if (img.configDigest && cfgFile.digest !== img.configDigest) throw new ArchiveError(`config ${img.configName} does not match its digest`);
      const config = fs.readFileSync(cfgFile.tmp);
      let cfg: ImageConfig;
      try {
        cfg = JSON.parse(config.toString('utf8')) as ImageConfig;
      } catch (e) {
        throw new ArchiveError(`config ${img.configName}: ${(e as Error).message}`);
      }
      const diffIds = cfg.rootfs?.diff_ids;
      if (!Array.isArray(diffIds) || diffIds.length !== img.layerNames.length) {
        throw new ArchiveError(`config ${img.configName} names ${diffIds?.length ?? 0} layers but the manifest has ${img.layerNames.length}`);
      }
      const bad = diffIds.find((d) => typeof d !== 'string' || !isStorableDigest(d));
      if (bad !== undefined) throw new ArchiveError(`config ${img.configName}: invalid diffID ${JSON.stringify(bad)}`);
      const layers: Descriptor[] = [];
      for (const [i, name] of img.layerNames.entries()) {
        const f = get(name);
        if (fs.existsSync(f.tmp)) store.content.commit(f.tmp, f.digest, f.size, {}, lease);
        else lease.add(`blob:${f.digest}`);
        layers.push({ mediaType: layerMediaType(sniffFile(store.content.path(f.digest))), digest: f.digest, size: f.size });
        if (store.layers.has(diffIds[i]) && f.digest === diffIds[i]) {
          lease.add(`layer:${diffIds[i]}`);
          continue;
        }
        await store.layers.unpack(store.content.read(f.digest), { expectedDiffId: diffIds[i], lease }).catch((e: Error) => {
          throw new ArchiveError(`layer ${name}: ${e.message}`);
        });
      }
      out.push({ config, layers, manifest: img.manifest, tags: img.tags });
    }
    return out;
  } finally {
    for (const f of files.values()) fs.rmSync(f.tmp, { force: true });
  }
}

async function spool(store: ImageStore, src: Readable, files: Map<string, Spooled>, links: Map<string, string>): Promise<void> {
  const extract = tarStream.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const h = entry.header;
      const type: string = h.type ?? 'unknown';
      let name: string;
      try {
        name = components(h.name, 'archive entry').join('/');
      } catch (e) {
        entry.resume();
        throw new ArchiveError((e as Error).message);
      }
      if (type === 'file' || type === 'contiguous-file') {
        const tmp = store.content.tempPath();
        const hash = crypto.createHash('sha256');
        const ws = fs.createWriteStream(tmp, { flags: 'wx' });
        files.set(name, { tmp, digest: '', size: h.size });
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          hash.update(chunk);
          if (!ws.write(chunk)) await new Promise<void>((r) => ws.once('drain', () => r()));
        }
        await new Promise<void>((resolve, reject) => ws.end((e?: Error | null) => (e ? reject(e) : resolve())));
        (files.get(name) as Spooled).digest = `sha256:${hash.digest('hex')}`;
      } else if (type === 'symlink') {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(name), h.linkname ?? ''));
        if (h.linkname?.startsWith('/') || target.startsWith('..')) throw new ArchiveError(`archive symlink ${name} points outside the archive`);
        links.set(name, target);
        entry.resume();
      } else if (type === 'directory' || type === 'pax-global-header') {
        entry.resume();
      } else {
        entry.resume();
        throw new ArchiveError(`archive entry ${name} has an unsupported type (${type})`);
      }
    }
  })();
  const fed = new Promise<void>((resolve, reject) => pipeline(src, extract as unknown as Writable, (e) => (e ? reject(e) : resolve())));
  await Promise.all([consume, fed]).catch((e: Error) => {
    extract.destroy();
    throw e instanceof ArchiveError ? e : new ArchiveError(`invalid archive: ${e.message}`);
  });
}

type ImageEntry = { configName: string; configDigest?: string; layerNames: string[]; manifest?: Buffer; tags: Reference[] };

function parseTag(s: string): Reference {
  let ref: Reference;
  try {
    ref = parseNormalizedNamed(s);
  } catch (e) {
    throw new ArchiveError(`manifest.json: ${(e as Error).message}`);
  }
  if (ref.tag === undefined || ref.digest) throw new ArchiveError(`invalid tag ${JSON.stringify(s)} in manifest.json`);
  return ref;
}

function dockerArchive(manifest: unknown): ImageEntry[] {
  if (!Array.isArray(manifest) || manifest.length === 0) throw new ArchiveError('manifest.json is not a non-empty list of images');
  return manifest.map((m: { Config?: unknown; Layers?: unknown; RepoTags?: unknown }) => {
    if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers) || !m.Layers.every((l) => typeof l === 'string')) {
      throw new ArchiveError('manifest.json entry lacks Config or Layers');
    }
    const tags = Array.isArray(m.RepoTags) ? m.RepoTags.map((t) => parseTag(String(t))) : [];
    return { configName: m.Config, layerNames: m.Layers as string[], tags };
  });
}

function ociLayout(index: unknown, blob: (digest: string) => Buffer, digestOf: (digest: string) => string): ImageEntry[] {
  const out: ImageEntry[] = [];
  const visit = (desc: Descriptor, tags: Reference[], depth: number): void => {
    if (depth > 4) throw new ArchiveError('index.json nests too deeply');
    if (!/^sha256:[a-f0-9]{64}$/.test(desc?.digest ?? '')) throw new ArchiveError(`unsupported or invalid digest ${JSON.stringify(desc?.digest)}`);
    if (digestOf(desc.digest) !== desc.digest) throw new ArchiveError(`blob ${desc.digest} does not match its digest`);
    if (desc.mediaType !== undefined && !INDEX_TYPES.has(desc.mediaType) && !IMAGE_MANIFEST_TYPES.has(desc.mediaType)) {
      throw new ArchiveError(`unsupported manifest media type ${JSON.stringify(desc.mediaType)} for ${desc.digest}`);
    }
    const bytes = blob(desc.digest);
    if (desc.size !== bytes.length) throw new ArchiveError(`manifest ${desc.digest} is ${bytes.length} bytes, its descriptor says ${desc.size}`);
    const doc = JSON.parse(bytes.toString('utf8')) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    if (Array.isArray(doc.manifests)) {
      const arch = process.arch === 'x64' ? 'amd64' : process.arch;
      const pick = doc.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch) ?? doc.manifests[0];
      if (!pick) throw new ArchiveError(`index ${desc.digest} lists no manifests`);
      return visit(pick, tags, depth + 1);
    }
    if (!doc.config || !Array.isArray(doc.layers)) throw new ArchiveError(`manifest ${desc.digest} lacks config or layers`);
    for (const l of doc.layers) if (!LAYER_TYPES.has(l.mediaType)) throw new ArchiveError(`unsupported layer media type ${JSON.stringify(l.mediaType)} for ${l.digest}`);
    for (const l of doc.layers) if (digestOf(l.digest) !== l.digest) throw new ArchiveError(`layer blob ${l.digest} does not match its digest`);
    out.push({ configName: blobName(doc.config.digest), configDigest: doc.config.digest, layerNames: doc.layers.map((l) => blobName(l.digest)), manifest: bytes, tags });
  };
  const manifests = (index as { manifests?: Descriptor[] })?.manifests;
  if (!Array.isArray(manifests)) throw new ArchiveError('index.json has no manifests');
  const byDigest = new Map<string, { desc: Descriptor; tags: Reference[] }>();
  for (const m of manifests) {
    const entry = byDigest.get(m.digest) ?? { desc: m, tags: [] };
    const name = m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'];
    if (name) {
      try {
        const ref = parseNormalizedNamed(name);
        if (ref.tag !== undefined && !ref.digest) entry.tags.push(ref);
      } catch {
        // a bare tag in ref.name without a repository: the image loads without a name, as docker does
      }
    }
    byDigest.set(m.digest, entry);
  }
  for (const { desc, tags } of byDigest.values()) visit(desc, tags, 0);
  return out;
}
