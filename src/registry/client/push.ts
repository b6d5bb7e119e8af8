/**
 * Push one local image under one tag: each layer is checked (HEAD), mounted from another repository of the same
 * registry when Berth saw it there, or uploaded; uncompressed layers (import, build) are gzipped on the way and the
 * result remembered. Then the config, then the manifest with its media type.
 */
import { Transform } from 'node:stream';
import type { ImageService } from '../../image/service';
import type { ImageRecord } from '../../image/store';
import { formatPlatform } from '../../image/platform';
import { MediaType, type Descriptor, type Index, type Manifest } from '../../image/types';
import { sha256 } from '../../store/content';
import { sniffFile } from '../../store/compression';
import { gzipLayer } from './compress';
import type { DistributionMeta } from './metadata';
import { runLimited } from './pull';
import { shortHex, type ProgressStream } from './progress';
import type { RemoteRepository } from './repository';

/** docker's max-concurrent-uploads. */
const CONCURRENT_UPLOADS = 5;

export interface PushContext {
  images: ImageService;
  meta: DistributionMeta;
  progress: ProgressStream;
  /** Upload in PATCH chunks of this size (default: one streamed PATCH per blob). */
  chunkSize?: number;
  cancel: () => void;
}

export interface PushResult {
  digest: string;
  size: number;
  mediaType: string;
}

const gzipTypes = new Set<string>([MediaType.ociLayerGzip, MediaType.dockerLayerGzip]);

/** The manifest to push: the stored one when every layer goes as stored, else a Docker schema2 (gzip layers) or OCI one. */
export function pushManifest(stored: Buffer, storedMan: Manifest, config: { digest: string; size: number }, layers: Descriptor[]): { bytes: Buffer; mediaType: string } {
  const same = layers.every((l, i) => l.digest === storedMan.layers[i].digest);
  if (same) return { bytes: stored, mediaType: storedMan.mediaType ?? MediaType.ociManifest };
  const docker = layers.every((l) => gzipTypes.has(l.mediaType));
  const man: Manifest = {
    schemaVersion: 2,
    mediaType: docker ? MediaType.dockerManifest : MediaType.ociManifest,
    config: { mediaType: docker ? MediaType.dockerConfig : MediaType.ociConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({ mediaType: docker ? MediaType.dockerLayerGzip : l.mediaType, size: l.size, digest: l.digest })),
  };
  return { bytes: Buffer.from(JSON.stringify(man, null, 3)), mediaType: man.mediaType as string };
}

/** Push one image; its manifest goes under `tag`, or by digest without one (an entry of an index). */
export async function pushImage(ctx: PushContext, repo: RemoteRepository, rec: ImageRecord, tag?: string): Promise<PushResult> {
  const { images, progress, meta } = ctx;
  const store = images.store;
  const storedBytes = store.content.readBuffer(rec.manifest);
  const storedMan = JSON.parse(storedBytes.toString('utf8')) as Manifest;
  const diffIds = store.config(rec.id).rootfs.diff_ids;
  const here = `${repo.session.host}/${repo.path}`;
  const pushed: Descriptor[] = new Array(storedMan.layers.length);
  const order = storedMan.layers.map((_, i) => i).reverse(); // docker lists the top layer first
  for (const i of order) progress.layer(shortHex(diffIds[i]), 'Preparing');

  await runLimited(order, CONCURRENT_UPLOADS, async (i) => {
    const local = storedMan.layers[i];
    const id = shortHex(diffIds[i]);
    const compression = sniffFile(store.content.path(local.digest));
    const known = compression !== 'none' ? { digest: local.digest, size: local.size } : meta.compressed(local.digest);
    const mediaType = compression === 'none' ? MediaType.dockerLayerGzip : local.mediaType;
    if (known) {
      pushed[i] = { mediaType, digest: known.digest, size: known.size };
      if (await repo.hasBlob(known.digest)) {
        progress.layer(id, 'Layer already exists');
        meta.addSource(known.digest, here);
        return;
      }
      for (const src of meta.sources(known.digest)) {
        const [host, ...rest] = src.split('/');
        if (host !== repo.session.host || src === here) continue;
        if (await repo.mount(known.digest, rest.join('/'))) {
          progress.layer(id, `Mounted from ${rest.join('/')}`);
          meta.addSource(known.digest, here);
          return;
        }
      }
    }
    progress.layer(id, 'Waiting');
    const total = store.content.size(local.digest);
    const source = store.content.read(local.digest);
    let read = 0;
    const counted = source.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          read += chunk.length;
          progress.bytes(id, 'Pushing', read, total);
          cb(null, chunk);
        },
      }),
    );
    source.on('error', (e) => counted.destroy(e));
    const up = await repo.upload(compression === 'none' ? gzipLayer(counted) : counted, { chunkSize: ctx.chunkSize });
    if (compression !== 'none' && up.digest !== local.digest) throw new Error(`layer blob ${local.digest} read back as ${up.digest}: the local store is damaged`);
    if (compression === 'none') meta.setCompressed(local.digest, up);
    pushed[i] = { mediaType, digest: up.digest, size: up.size };
    meta.addSource(up.digest, here);
    progress.layer(id, 'Pushed');
  }, ctx.cancel);

  const config = store.content.readBuffer(rec.id);
  if (!(await repo.hasBlob(rec.id))) await repo.upload(config);
  const { bytes, mediaType } = pushManifest(storedBytes, storedMan, { digest: rec.id, size: config.length }, pushed);
  const digest = await repo.putManifest(tag ?? sha256(bytes), bytes, mediaType);
  return { digest, size: bytes.length, mediaType };
}

/**
 * Push a multi-platform image: each platform's image by digest, then its index under the tag (rewritten when a
 * manifest changed on the way, as pushManifest may).
 */
export async function pushIndex(ctx: PushContext, repo: RemoteRepository, rec: ImageRecord & { index: string }, tag: string): Promise<PushResult> {
  const store = ctx.images.store;
  const index = store.content.readJson<Index>(rec.index);
  const manifests: Descriptor[] = [];
  for (const desc of index.manifests) {
    const entry = store.all().find((r) => r.manifest === desc.digest);
    if (!entry) throw new Error(`the image for ${desc.platform ? formatPlatform(desc.platform) : desc.digest} of this multi-platform image is gone`);
    const pushed = await pushImage(ctx, repo, entry);
    manifests.push({ ...desc, mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size });
  }
  const same = manifests.every((m, i) => m.digest === index.manifests[i].digest);
  const bytes = same ? store.content.readBuffer(rec.index) : Buffer.from(JSON.stringify({ ...index, manifests }));
  const mediaType = index.mediaType ?? MediaType.ociIndex;
  return { digest: await repo.putManifest(tag, bytes, mediaType), size: bytes.length, mediaType };
}
