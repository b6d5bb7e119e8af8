/**
 * Pull one image (a tag or a digest) into the image store: resolve the manifest (platform from an index), fetch the
 * config, download layers concurrently (each verified while streaming and unpacked on the way), then write the record.
 * Everything runs under a lease: a failure or an interrupted pull leaves no image and no unreferenced piece.
 */
import { PassThrough, type Readable } from 'node:stream';
import type { ImageService } from '../../image/service';
import type { Reference } from '../../image/reference';
import { IMAGE_MANIFEST_TYPES, INDEX_TYPES, LAYER_TYPES, type Descriptor, type ImageConfig, type Manifest } from '../../image/types';
import { log } from '../../common/log';
import { isStorableDigest } from '../../store/content';
import type { Lease } from '../../store/leases';
import { formatPlatform, selectManifest, type Platform } from '../../image/platform';
import { shortHex, type ProgressStream } from './progress';
import type { FetchedManifest, RemoteRepository } from './repository';
import { isTransient } from './session';

/** docker's max-concurrent-downloads. */
const CONCURRENT_DOWNLOADS = 3;
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 1000;

export class PullError extends Error {
  constructor(message: string, readonly status = 500) {
    super(message);
  }
}

export interface PullResult {
  id: string;
  /** The digest the reference resolved to (an index's digest for a multi-platform image). */
  digest: string;
  /** The tag already pointed at this image. */
  upToDate: boolean;
}

export interface PullContext {
  images: ImageService;
  progress: ProgressStream;
  platform: Platform;
  signal?: AbortSignal;
  /** Stop every request of this operation (after a layer failed for good). */
  cancel: () => void;
}

/** Resolve a tag or digest to the manifest for the platform; the top-level digest is what RepoDigests records. */
export async function resolveManifest(repo: RemoteRepository, ref: Reference, platform: Platform): Promise<{ top: FetchedManifest; manifest: FetchedManifest }> {
  const top = await repo.manifest(ref.digest ?? ref.tag ?? 'latest');
  if (!INDEX_TYPES.has(top.mediaType)) return { top, manifest: top };
  const index = JSON.parse(top.bytes.toString('utf8')) as { manifests?: Descriptor[] };
  const desc = selectManifest(index.manifests ?? [], platform);
  if (!desc) throw new PullError(`no matching manifest for ${formatPlatform(platform)} in the manifest list entries`, 404);
  const manifest = await repo.manifest(desc.digest, checkedSize(desc, 'manifest'));
  return { top, manifest };
}

export function parseImageManifest(m: FetchedManifest): Manifest {
  if (m.mediaType === 'application/vnd.docker.distribution.manifest.v1+prettyjws') {
    throw new PullError('image uses Docker schema 1 manifests, which Berth does not support: push it again with a current client', 400);
  }
  if (!IMAGE_MANIFEST_TYPES.has(m.mediaType)) throw new PullError(`unsupported manifest media type ${m.mediaType}`, 400);
  const man = JSON.parse(m.bytes.toString('utf8')) as Manifest;
  if (!man.config?.digest || !Array.isArray(man.layers)) throw new PullError('malformed manifest: no config or layers', 400);
  for (const l of man.layers) if (!LAYER_TYPES.has(l.mediaType)) throw new PullError(`unsupported layer media type ${l.mediaType}`, 400);
  for (const [d, what] of [[man.config, 'config'], ...man.layers.map((l): [Descriptor, string] => [l, 'layer'])] as [Descriptor, string][]) {
    if (!isStorableDigest(String(d.digest))) {
      const alg = /^(\w+):/.exec(String(d.digest))?.[1];
      throw new PullError(alg && alg !== 'sha256' ? `${what} digest ${d.digest}: Berth stores blobs by sha256 only` : `malformed manifest: invalid ${what} digest ${JSON.stringify(d.digest)}`, 400);
    }
    checkedSize(d, what);
  }
  return man;
}

/** A descriptor's size: what the bytes received must add up to (a non-negative whole number). */
function checkedSize(d: Descriptor, what: string): number {
  if (!Number.isSafeInteger(d.size) || d.size < 0) throw new PullError(`malformed manifest: ${what} ${d.digest} has an invalid size ${JSON.stringify(d.size)}`, 400);
  return d.size;
}

export async function pullImage(ctx: PullContext, repo: RemoteRepository, ref: Reference, resolved: { top: FetchedManifest; manifest: FetchedManifest }): Promise<PullResult> {
  const { images, progress } = ctx;
  const store = images.store;
  const man = parseImageManifest(resolved.manifest);
  progress.message(`Pulling from ${ref.path}`, ref.digest ?? ref.tag);
  const t0 = performance.now();
  const lap = (what: string): void => log.debug('pull timing', { ref: ref.path, what, ms: Math.round(performance.now() - t0) });
  return images.withLease(async (lease) => {
    const configBytes = await withRetries(() => repo.smallBlob(man.config.digest, man.config.size), ctx.signal, () => undefined);
    const cfg = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = cfg.rootfs?.diff_ids ?? [];
    if (diffIds.length !== man.layers.length) throw new PullError(`image config names ${diffIds.length} layers but the manifest has ${man.layers.length}`, 400);
    if (cfg.os && cfg.os !== ctx.platform.os) throw new PullError(`image operating system "${cfg.os}" cannot be used on this platform`, 400);

    const pending: number[] = [];
    man.layers.forEach((l, i) => {
      lease.add(`blob:${l.digest}`);
      lease.add(`layer:${diffIds[i]}`);
      if (store.content.has(l.digest) && store.layers.has(diffIds[i])) progress.layer(shortHex(l.digest), 'Already exists');
      else {
        progress.layer(shortHex(l.digest), 'Pulling fs layer');
        pending.push(i);
      }
    });
    lap('config');
    await runLimited(pending, CONCURRENT_DOWNLOADS, (i) => fetchLayer(ctx, repo, man.layers[i], diffIds[i], lease), ctx.cancel);
    lap(`${pending.length} layers`);

    const ref0 = store.lookup(ref);
    const rec = await store.create({ config: configBytes, layers: man.layers, manifest: resolved.manifest.bytes }, lease);
    lap('record (flushed)');
    const digestRef: Reference = { domain: ref.domain, path: ref.path, digest: resolved.top.digest };
    store.setRef(digestRef, rec.id);
    if (ref.tag !== undefined) store.setRef({ domain: ref.domain, path: ref.path, tag: ref.tag }, rec.id);
    return { id: rec.id, digest: resolved.top.digest, upToDate: ref0 === rec.id };
  });
}

/** Download one layer blob into the content store and unpack it from the same bytes; retried on transient errors. */
async function fetchLayer(ctx: PullContext, repo: RemoteRepository, layer: Descriptor, diffId: string, lease: Lease): Promise<void> {
  const { progress, images } = ctx;
  const store = images.store;
  const id = shortHex(layer.digest);
  await withRetries(async () => {
    if (store.content.has(layer.digest)) {
      // blob here, layer not unpacked (e.g. removed meanwhile): unpack from the local copy
      await store.layers.unpack(store.content.read(layer.digest), { expectedDiffId: diffId, lease, durability: 'deferred' });
    } else {
      const res = await repo.blob(layer.digest);
      let got = 0;
      const counted = new PassThrough();
      res.on('data', (c: Buffer) => {
        got += c.length;
        progress.bytes(id, 'Downloading', got, layer.size);
      });
      res.on('error', (e) => {
        const why = `${repo.session.host} broke off blob ${layer.digest} after ${got} of ${layer.size} bytes: ${e.message}`;
        counted.destroy(Object.assign(new Error(why), { code: 'SHORT_BODY' }));
      });
      res.pipe(counted);
      const [toStore, toLayer] = tee(counted);
      // whichever side fails first stops the other (a stopped reader would stall the tee)
      const stop = (e: Error): never => {
        res.destroy();
        counted.destroy(e);
        throw e;
      };
      // durability deferred: one syncfs in store.create, before the record, covers every blob and layer of the pull
      const unpack = store.layers.has(diffId) ? drain(toLayer) : store.layers.unpack(toLayer, { expectedDiffId: diffId, lease, durability: 'deferred' });
      const ingest = store.content.ingest(toStore, { digest: layer.digest, size: layer.size }, lease, 'deferred');
      const results = await Promise.allSettled([ingest.catch(stop), unpack.catch(stop)]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      progress.layer(id, 'Verifying Checksum');
      progress.layer(id, 'Download complete');
    }
    progress.bytes(id, 'Extracting', layer.size, layer.size, true);
    progress.layer(id, 'Pull complete');
  }, ctx.signal, (attempt) => progress.layer(id, `Retrying in ${attempt} second${attempt > 1 ? 's' : ''}`));
}

/** Run `fn` up to ATTEMPTS times while it fails with a transient error (broken or stalled connection, 5xx). */
async function withRetries<T>(fn: () => Promise<T>, signal: AbortSignal | undefined, onRetry: (attempt: number) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (signal?.aborted || attempt >= ATTEMPTS || !isTransient(e)) {
        throw attempt > 1 && e instanceof Error ? new Error(`${e.message} (after ${attempt} attempts)`) : e;
      }
      onRetry(attempt);
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS * attempt));
    }
  }
}

/** Two readers of one stream, each paced by the slower (both must consume to the end). */
export function tee(src: Readable): [PassThrough, PassThrough] {
  const a = new PassThrough({ highWaterMark: 1 << 20 });
  const b = new PassThrough({ highWaterMark: 1 << 20 });
  src.on('data', (chunk: Buffer) => {
    const okA = a.write(chunk);
    const okB = b.write(chunk);
    if (!okA || !okB) {
      src.pause();
      let waiting = Number(!okA) + Number(!okB);
      const resume = (): void => {
        if (--waiting === 0) src.resume();
      };
      if (!okA) a.once('drain', resume);
      if (!okB) b.once('drain', resume);
    }
  });
  src.on('end', () => (a.end(), b.end()));
  src.on('error', (e) => (a.destroy(e), b.destroy(e)));
  for (const s of [a, b]) s.on('close', () => !src.readableEnded && !s.writableFinished && src.destroy(new Error('reader stopped')));
  return [a, b];
}

async function drain(s: Readable): Promise<void> {
  for await (const _ of s) void _;
}

/** Run `fn` over items, at most `limit` at a time. On the first failure no new item starts, `onFail` runs (to cancel
 * those in flight), and once every started item has settled the failure is thrown. */
export async function runLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, onFail: () => void): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      try {
        await fn(items[next++]);
      } catch (e) {
        if (!failure) {
          failure = { e };
          onFail();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.e;
}
