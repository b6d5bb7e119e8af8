/**
 * POST /commit: a container's upper dir becomes one more layer on top of its image (the build's commitLayer: gzip
 * blob + unpacked layer from one layer tar), with the container's config, `--change` lines applied, `-m`, `-a`;
 * `commit` is docker's whole sequence (pause, commit, unpause, tag, event).
 */
import * as fs from 'node:fs';
import { badRequest } from '../../common/errors';
import { applyChanges } from '../../image/changes';
import type { ImageStore } from '../../image/store';
import type { ImageConfig } from '../../image/types';
import type { ContainerConfig } from '../../schema/container';
import { commitLayer, loadState } from '../../image/commit';
import { treeEntries, tarBytes } from '../../store/diff';
import type { ContainerRecord } from './record';
import type { ContainerService } from './service';

export interface CommitOptions {
  comment?: string;
  author?: string;
  changes?: string[];
  /** The `config` body: overrides of the container's config (docker merges it the same way). */
  config?: ContainerConfig | null;
}

/** The image config of the commit (pure): docker's merge of the container's config with the body and changes. */
export function commitConfig(rec: ContainerRecord, parent: ImageConfig, opts: CommitOptions, created: string): ImageConfig {
  let config: ContainerConfig = { ...rec.Config, ...(opts.config ?? {}) };
  try {
    config = applyChanges(config, opts.changes ?? []);
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  return {
    architecture: parent.architecture,
    os: parent.os,
    ...(parent.variant ? { variant: parent.variant } : {}),
    created,
    ...(opts.author ? { author: opts.author } : {}),
    ...(opts.comment ? { comment: opts.comment } : {}),
    container: rec.Id,
    container_config: rec.Config,
    config,
    rootfs: parent.rootfs,
    history: [
      ...(parent.history ?? []),
      { created, created_by: [rec.Path, ...rec.Args].join(' '), ...(opts.author ? { author: opts.author } : {}), ...(opts.comment ? { comment: opts.comment } : {}) },
    ],
  };
}

/** Write the layer and the image; returns the new image id. */
export async function commitContainer(store: ImageStore, rec: ContainerRecord, upperDir: string, opts: CommitOptions): Promise<string> {
  const parent = loadState(store, rec.Image);
  // a container never started has no upper dir yet: its commit is an empty layer, as docker's
  fs.mkdirSync(upperDir, { recursive: true });
  const layer = await commitLayer(store, tarBytes(treeEntries(upperDir)));
  const created = new Date().toISOString();
  const cfg = commitConfig(rec, parent.config, opts, created);
  cfg.rootfs = { type: 'layers', diff_ids: [...parent.config.rootfs.diff_ids, layer.diffId] };
  const img = await store.create({ config: Buffer.from(JSON.stringify(cfg)), layers: [...parent.layers, layer.desc], parent: rec.Image });
  return img.id;
}

export interface CommitRequest extends CommitOptions {
  /** Pause a running container for the commit (docker's default). */
  pause: boolean;
  repo?: string;
  tag?: string;
}

/** What a commit needs of the image service. */
export interface CommitImages {
  readonly store: ImageStore;
  tag(ref: string, repo: string, tag?: string): void;
}

/** docker commit: pause (unless told not to), write the image, unpause, tag, `commit` event; returns the image id. */
export async function commit(containers: ContainerService, images: CommitImages, ref: string, req: CommitRequest): Promise<string> {
  const rec = containers.store.get(ref);
  const pause = req.pause && rec.State.Running && !rec.State.Paused;
  if (pause) await containers.pause(rec.Id, true);
  let id: string;
  try {
    id = await commitContainer(images.store, rec, containers.store.paths(rec.Id).upper, req);
  } finally {
    if (pause) await containers.pause(rec.Id, false);
  }
  if (req.repo) images.tag(id, req.repo, req.tag);
  containers.commitEvent(rec, id);
  return id;
}
