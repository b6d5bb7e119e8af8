/**
 * `--cache-from` as docker's classic builder does it (moby image/cache): an image named there is a cache source even
 * when this daemon never built it (pulled, loaded). A step hits when the source's history and layers begin with the
 * parent's, on the same platform, and the source's next history entry is the one the step would write (its
 * created_by and whether it adds a layer). Pure: the executor turns a hit into an image.
 */
import type { ImageState, NewLayer } from '../image/commit';
import type { HistoryEntry } from '../image/types';
import type { ContainerConfig } from '../schema/container';
import { canonical } from './cachekey';

/** What a step would add to its parent. */
export interface StepOutcome {
  createdBy: string;
  /** Whether the step adds a layer (RUN, COPY, ADD) or only changes the config. */
  layer: boolean;
  /** The resulting container config. */
  config: ContainerConfig;
  /** MAINTAINER's author, else the parent's stays. */
  author?: string;
}

export type CacheFromHit =
  /** The step's result is the source image itself (its last step, same config). */
  | { kind: 'image'; id: string }
  /** The step is inside the source: the parent plus this history entry and layer (docker's restoreCachedImage). */
  | { kind: 'step'; history: HistoryEntry; layer?: NewLayer; source: ImageState };

/** docker's isValidParent: `source` was built on `parent` (same history entries, same layers, in order). */
function builtOn(source: ImageState, parent: ImageState): boolean {
  const s = source.config;
  const p = parent.config;
  const sh = s.history ?? [];
  const ph = p.history ?? [];
  if (s.os !== p.os || s.architecture !== p.architecture) return false;
  if (ph.length >= sh.length || p.rootfs.diff_ids.length > s.rootfs.diff_ids.length) return false;
  return ph.every((h, i) => canonical(h) === canonical(sh[i])) && p.rootfs.diff_ids.every((d, i) => d === s.rootfs.diff_ids[i]);
}

/**
 * With --cache-from, a step the builder cached itself counts only on the way to a source (docker: only if it is a
 * parent of one), so a build with --cache-from reproduces the sources, not whatever this daemon built before.
 */
export function onTheWay(sources: readonly ImageState[], image: ImageState): boolean {
  return sources.some((s) => s.id === image.id || builtOn(s, image));
}

/** The first source in which the step is the next one after `parent`. */
export function matchCacheFrom(sources: readonly ImageState[], parent: ImageState, step: StepOutcome): CacheFromHit | undefined {
  for (const source of sources) {
    if (!builtOn(source, parent)) continue;
    const history = source.config.history ?? [];
    const n = parent.config.history?.length ?? 0;
    const entry = history[n];
    if (entry.created_by !== step.createdBy || !entry.empty_layer !== step.layer) continue;
    let layer: NewLayer | undefined;
    if (step.layer) {
      const k = parent.config.rootfs.diff_ids.length;
      const diffId = source.config.rootfs.diff_ids[k];
      const desc = source.layers[k];
      if (!diffId || !desc) continue;
      layer = { diffId, desc };
    }
    if (n === history.length - 1 && source.id && canonical(source.config.config ?? {}) === canonical(step.config)) {
      return { kind: 'image', id: source.id };
    }
    return { kind: 'step', history: entry, layer, source };
  }
  return undefined;
}

/**
 * The --cache-from images of one build. After a match inside one of them, only that one is looked at for the
 * following steps (docker: "avoid jumping to a different target"), so the build follows one source's chain.
 */
export class CacheFromSources {
  constructor(private sources: readonly ImageState[]) {}

  get list(): readonly ImageState[] {
    return this.sources;
  }

  match(parent: ImageState, step: StepOutcome): CacheFromHit | undefined {
    const hit = matchCacheFrom(this.sources, parent, step);
    if (hit?.kind === 'step') this.sources = [hit.source];
    return hit;
  }
}
