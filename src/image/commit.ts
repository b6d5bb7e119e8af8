/**
 * Build steps and container commits into the image store (used by build/ and engine/containers/commit.ts): a layer
 * tar becomes a gzip blob and an unpacked layer in one pass (the tar is made once and teed to both), and each step's
 * config becomes an image record whose parent is the previous step.
 */
import { PassThrough } from 'node:stream';
import type { ImageStore } from './store';
import { layerMediaType, type Descriptor, type HistoryEntry, type ImageConfig } from './types';
import type { ContainerConfig } from '../schema/container';
import { gzipStream, tee } from '../store/diff';
import { goArch, type Platform } from './platform';

/** The image a build step starts from: a record (absent for `scratch` before the first step) and its config. */
export interface ImageState {
  id?: string;
  config: ImageConfig;
  layers: Descriptor[];
}

export interface NewLayer {
  desc: Descriptor;
  diffId: string;
}

/** `FROM scratch` on a platform (the host's by default). */
export function scratchState(platform: Platform = { os: 'linux', architecture: goArch() }): ImageState {
  const { os, architecture, variant } = platform;
  return { config: { architecture, os, ...(variant ? { variant } : {}), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [] };
}

export function loadState(store: ImageStore, id: string): ImageState {
  const rec = store.get(id);
  if (!rec) throw new Error(`image ${id} is gone`);
  return { id, config: store.config(id), layers: store.manifest(rec).layers };
}

/** Store a layer tar: gzip blob in the content store and unpacked layer, from one read of the tar. */
export async function commitLayer(store: ImageStore, tar: AsyncIterable<Buffer>): Promise<NewLayer> {
  const toBlob = new PassThrough({ highWaterMark: 1 << 20 });
  const toLayer = new PassThrough({ highWaterMark: 1 << 20 });
  const consumers = Promise.all([store.content.ingest(gzipStream(toBlob)), store.layers.unpack(toLayer)]);
  consumers.catch(() => {
    toBlob.destroy();
    toLayer.destroy();
  });
  const fed = tee(tar, [toBlob, toLayer]);
  const [blob, layer] = await Promise.all([consumers, fed.catch(async (e: Error) => {
    await consumers; // a consumer's own error explains a broken tee better
    throw e;
  })]).then(([c]) => c);
  return { desc: { mediaType: layerMediaType('gzip'), digest: blob.digest, size: blob.size }, diffId: layer.diffId };
}

export interface StepChange {
  config: ContainerConfig;
  created: string;
  createdBy: string;
  layer?: NewLayer;
  author?: string;
  /** The history entry as is, instead of one made of created/createdBy (a step restored from a cache-from image). */
  history?: HistoryEntry;
}

/** A new image on top of `state`: config, rootfs and history extended by one step. */
export async function commitImage(store: ImageStore, state: ImageState, change: StepChange): Promise<ImageState> {
  const base = state.config;
  const history: HistoryEntry = change.history ?? { created: change.created, created_by: change.createdBy, ...(change.layer ? {} : { empty_layer: true }) };
  const cfg: ImageConfig = {
    architecture: base.architecture,
    os: base.os,
    ...(base.variant ? { variant: base.variant } : {}),
    created: change.created,
    ...(change.author ?? base.author ? { author: change.author ?? base.author } : {}),
    config: change.config,
    rootfs: { type: 'layers', diff_ids: [...base.rootfs.diff_ids, ...(change.layer ? [change.layer.diffId] : [])] },
    history: [...(base.history ?? []), history],
  };
  const layers = [...state.layers, ...(change.layer ? [change.layer.desc] : [])];
  const rec = await store.create({ config: Buffer.from(JSON.stringify(cfg)), layers, parent: state.id });
  return { id: rec.id, config: store.config(rec.id), layers };
}
