/**
 * Where exported build cache lives (cacheformat.ts is what it says): a local directory in OCI image layout
 * (`type=local`), a registry repository (`type=registry`), or an image's own config (`inline`, read back through
 * `type=registry` of that image). Written as BuildKit writes it by default (image-manifest=true): an OCI image manifest
 * whose config is the cache config and whose layers are the layer blobs; an older BuildKit's index form is read too.
 * Local paths are the daemon's (the CLI passes absolute ones; with a remote daemon they are on its machine).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../common/atomic';
import type { ImageStore } from '../image/store';
import { INDEX_TYPES, MediaType, type Descriptor, type ImageConfig, type Index, type Manifest } from '../image/types';
import type { RemoteRepository } from '../registry/client/repository';
import { sha256 } from '../store/content';
import { CACHE_CONFIG_TYPE, INLINE_CACHE_KEY, cacheConfigOf, stepsOfCacheConfig, stepsOfInlineCache, type CacheConfig, type CachedStep } from './cacheformat';
import type { CacheSpec } from './buildflags';

/** A registry repository for cache import/export, with the daemon's registry policy (hosts, TLS, loopback-only). */
export interface OpenedRepository {
  repo: RemoteRepository;
  /** The tag (or digest) the reference names; `latest` when it names none. */
  reference: string;
  close(): void;
}
export type OpenRepository = (ref: string, push: boolean) => Promise<OpenedRepository>;

/** An imported cache: step results by key, and their layer blobs on demand. */
export interface ImportedCache {
  steps: Map<string, CachedStep>;
  blob(digest: string): Promise<Readable>;
  close(): void;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/** Steps out of a cache manifest (either form) or an image manifest with an inline cache. */
async function stepsOfManifest(bytes: Buffer, blob: (d: Descriptor) => Promise<Buffer>): Promise<Map<string, CachedStep>> {
  const doc = JSON.parse(bytes.toString('utf8')) as Partial<Manifest & Index>;
  if (INDEX_TYPES.has(doc.mediaType ?? '') || Array.isArray(doc.manifests)) {
    const cfg = doc.manifests?.find((m) => m.mediaType === CACHE_CONFIG_TYPE);
    return cfg ? stepsOfCacheConfig(JSON.parse((await blob(cfg)).toString('utf8')) as CacheConfig) : new Map();
  }
  if (!doc.config) return new Map();
  const config = JSON.parse((await blob(doc.config)).toString('utf8')) as CacheConfig & ImageConfig & Record<string, unknown>;
  if (doc.config.mediaType === CACHE_CONFIG_TYPE) return stepsOfCacheConfig(config);
  const inline = config[INLINE_CACHE_KEY];
  return typeof inline === 'string' ? stepsOfInlineCache(inline, doc.layers ?? [], config.rootfs?.diff_ids ?? []) : new Map();
}

/** The cache manifest of `steps` and its config blob (layers: the steps' own blobs). */
function cacheManifest(steps: CachedStep[]): { manifest: Buffer; config: Buffer; layers: Descriptor[] } {
  const { config, blobs } = cacheConfigOf(steps);
  const configBytes = Buffer.from(JSON.stringify(config));
  const man: Manifest = {
    schemaVersion: 2, mediaType: MediaType.ociManifest,
    config: { mediaType: CACHE_CONFIG_TYPE, digest: sha256(configBytes), size: configBytes.length }, layers: blobs,
  };
  return { manifest: Buffer.from(JSON.stringify(man)), config: configBytes, layers: blobs };
}

function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  if (alg !== 'sha256' || !/^[0-9a-f]{64}$/.test(hex ?? '')) throw new Error(`invalid digest ${digest} in the cache at ${dir}`);
  return path.join(dir, 'blobs', alg, hex);
}

/** Reads a blob of a local cache, checking its digest (the directory is the user's). */
function readLocalBlob(dir: string, digest: string): Buffer {
  const bytes = fs.readFileSync(blobPath(dir, digest));
  if (sha256(bytes) !== digest) throw new Error(`blob ${digest} of the cache at ${dir} does not match its digest`);
  return bytes;
}

/** `--cache-from type=local,src=DIR[,tag=T]` or `type=registry,ref=R`. */
export async function importCache(spec: CacheSpec, open: OpenRepository | undefined): Promise<ImportedCache> {
  if (spec.type === 'local') {
    const dir = spec.attrs.src;
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as Index;
    const tag = spec.attrs.tag ?? 'latest';
    const desc = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag) ?? index.manifests.at(-1);
    if (!desc) throw new Error(`no cache manifest in ${dir}/index.json`);
    const steps = await stepsOfManifest(readLocalBlob(dir, desc.digest), async (d) => readLocalBlob(dir, d.digest));
    // layer blobs are streamed and verified by the content store as they are ingested
    return { steps, blob: async (digest) => fs.createReadStream(blobPath(dir, digest)), close: () => undefined };
  }
  if (!open) throw new Error('this builder has no registry access');
  const opened = await open(spec.attrs.ref, false);
  try {
    const top = await opened.repo.manifest(opened.reference);
    const steps = await stepsOfManifest(top.bytes, (d) => opened.repo.smallBlob(d.digest, d.size));
    return { steps, blob: (digest) => opened.repo.blob(digest), close: () => opened.close() };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/** `--cache-to type=local,dest=DIR[,tag=T]` or `type=registry,ref=R`: the steps, their layer blobs from `store`. */
export async function exportCache(spec: CacheSpec, steps: CachedStep[], store: ImageStore, open: OpenRepository | undefined): Promise<string> {
  const { manifest, config, layers } = cacheManifest(steps);
  const digest = sha256(manifest);
  if (spec.type === 'local') {
    const dir = spec.attrs.dest;
    fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    for (const l of layers) {
      const to = blobPath(dir, l.digest);
      if (!fs.existsSync(to)) {
        fs.copyFileSync(store.content.path(l.digest), `${to}.tmp`);
        fs.renameSync(`${to}.tmp`, to);
      }
    }
    writeFileAtomic(blobPath(dir, sha256(config)), config);
    writeFileAtomic(blobPath(dir, digest), manifest);
    writeFileAtomic(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const entry: Descriptor = { mediaType: MediaType.ociManifest, digest, size: manifest.length, annotations: { [REF_NAME]: spec.attrs.tag ?? 'latest' } };
    // the index goes last: a reader never sees a manifest whose blobs are not all there
    writeFileAtomic(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [entry] } satisfies Index));
    return digest;
  }
  if (!open) throw new Error('this builder has no registry access');
  const opened = await open(spec.attrs.ref, true);
  try {
    for (const l of layers) if (!(await opened.repo.hasBlob(l.digest))) await opened.repo.upload(store.content.read(l.digest));
    if (!(await opened.repo.hasBlob(sha256(config)))) await opened.repo.upload(config);
    return await opened.repo.putManifest(opened.reference, manifest, MediaType.ociManifest);
  } finally {
    opened.close();
  }
}
