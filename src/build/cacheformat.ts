/**
 * Exported build cache in BuildKit's format (cache/remotecache/v1: application/vnd.buildkit.cacheconfig.v0): a list
 * of layer blobs (each with its parent layer and annotations) and records whose results point at them. A record's
 * digest is Berth's step key (build/cachekey.ts), not BuildKit's LLB key, so the two builders read each other's
 * files but only hit their own records. A step without a layer (ENV, CMD...) is a record with one chained result of no
 * layers: BuildKit's shape for it, carrying the step's `created` time, so that the image made from a record has the ID
 * the exporting build had and the steps after it keep their keys.
 */
import type { Descriptor } from '../image/types';

export const CACHE_CONFIG_TYPE = 'application/vnd.buildkit.cacheconfig.v0';
/** The image config key of an inline cache (base64 JSON of the records, layers counted in the image). */
export const INLINE_CACHE_KEY = 'moby.buildkit.cache.v0';

/** One step a build made or reused: what another builder needs to make the same image from the same parent. */
export interface CachedStep {
  /** The step key (sha256:…, a digest as BuildKit's record keys are). */
  key: string;
  /** The key of the step before it in its stage, when that one is exported too. */
  parentKey?: string;
  /** The step's history `created` time. */
  created: string;
  /** Its layer, when the step has one. */
  layer?: { desc: Descriptor; diffId: string };
}

/** The steps that made the image of step `last`, first to last (BuildKit's mode=min: the result's own chain). */
export function chainOf(steps: CachedStep[], last: string | undefined): CachedStep[] {
  const byKey = new Map(steps.map((s) => [s.key, s]));
  const out: CachedStep[] = [];
  for (let s = last !== undefined ? byKey.get(last) : undefined; s && !out.includes(s); s = s.parentKey !== undefined ? byKey.get(s.parentKey) : undefined) out.unshift(s);
  return out;
}

interface CacheLayer {
  blob: string;
  parent?: number;
  annotations?: { mediaType?: string; diffID?: string; size?: number; createdAt?: string };
}

interface CacheRecord {
  digest: string;
  layers?: { layer: number; createdAt?: string }[];
  chains?: { layers: number[]; createdAt?: string }[];
  inputs?: { selector?: string; link: number }[][];
}

export interface CacheConfig {
  layers?: CacheLayer[];
  records?: CacheRecord[];
}

/** Records of `steps`, their results' layer numbers given by `layerOf` (-1: none). */
function records(steps: CachedStep[], layerOf: (s: CachedStep) => number): CacheRecord[] {
  const at = new Map(steps.map((s, i) => [s.key, i]));
  return steps.map((s) => {
    const link = s.parentKey !== undefined ? at.get(s.parentKey) : undefined;
    const n = layerOf(s);
    return {
      digest: s.key,
      ...(n >= 0 ? { layers: [{ layer: n, createdAt: s.created }] } : { chains: [{ layers: [], createdAt: s.created }] }),
      ...(link !== undefined ? { inputs: [[{ link }]] } : {}),
    };
  });
}

/** The cache config of `steps` (each key once) and the layer blobs it names, in its order. */
export function cacheConfigOf(steps: CachedStep[]): { config: CacheConfig; blobs: Descriptor[] } {
  const unique = [...new Map(steps.map((s) => [s.key, s])).values()];
  const layers: CacheLayer[] = [];
  const blobs: Descriptor[] = [];
  const index = new Map<string, number>();
  const byKey = new Map(unique.map((s) => [s.key, s]));
  /** The nearest step before `s` in its chain that has a layer: BuildKit's parent layer. */
  const parentLayer = (s: CachedStep): number => {
    for (let p = s.parentKey !== undefined ? byKey.get(s.parentKey) : undefined; p; p = p.parentKey !== undefined ? byKey.get(p.parentKey) : undefined) {
      if (p.layer) return index.get(p.layer.desc.digest) ?? -1;
    }
    return -1;
  };
  for (const s of unique) {
    if (!s.layer || index.has(s.layer.desc.digest)) continue;
    const { desc, diffId } = s.layer;
    index.set(desc.digest, layers.length);
    layers.push({ blob: desc.digest, parent: parentLayer(s), annotations: { mediaType: desc.mediaType, diffID: diffId, size: desc.size, createdAt: s.created } });
    blobs.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { 'containerd.io/uncompressed': diffId } });
  }
  return { config: { layers, records: records(unique, (s) => (s.layer ? (index.get(s.layer.desc.digest) as number) : -1)) }, blobs };
}

/** Step results by key out of a cache config; records that are not Berth step keys or name no usable layer are skipped. */
export function stepsOfCacheConfig(config: CacheConfig): Map<string, CachedStep> {
  const layers = (config.layers ?? []).map((l) => {
    const a = l.annotations;
    return typeof l.blob === 'string' && a?.diffID && a.mediaType && typeof a.size === 'number'
      ? { desc: { mediaType: a.mediaType, digest: l.blob, size: a.size }, diffId: a.diffID }
      : undefined;
  });
  return stepsOf(config.records ?? [], (n) => layers[n]);
}

function stepsOf(recs: CacheRecord[], layerAt: (n: number) => CachedStep['layer'] | undefined): Map<string, CachedStep> {
  const out = new Map<string, CachedStep>();
  for (const r of Array.isArray(recs) ? recs : []) {
    const key = r?.digest;
    if (typeof key !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(key)) continue;
    const result = r.layers?.[0];
    const chain = r.chains?.find((c) => Array.isArray(c.layers) && c.layers.length === 0);
    if (result && typeof result.layer === 'number' && result.createdAt) {
      const layer = layerAt(result.layer);
      if (layer) out.set(key, { key, created: result.createdAt, layer });
    } else if (chain?.createdAt) {
      out.set(key, { key, created: chain.createdAt });
    }
  }
  return out;
}

/** The inline cache of an image: records of the steps whose layers are the image's (numbered as in the image). */
export function inlineCacheOf(steps: CachedStep[], imageDiffIds: string[]): string {
  const unique = [...new Map(steps.map((s) => [s.key, s])).values()].filter((s) => !s.layer || imageDiffIds.includes(s.layer.diffId));
  return Buffer.from(JSON.stringify(records(unique, (s) => (s.layer ? imageDiffIds.indexOf(s.layer.diffId) : -1)))).toString('base64');
}

/** Step results out of an image's inline cache (`layers`/`diffIds`: the image's, in order). */
export function stepsOfInlineCache(value: string, layers: Descriptor[], diffIds: string[]): Map<string, CachedStep> {
  let recs: CacheRecord[];
  try {
    recs = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as CacheRecord[];
  } catch {
    return new Map();
  }
  return stepsOf(recs, (n) => (layers[n] && diffIds[n] ? { desc: layers[n], diffId: diffIds[n] } : undefined));
}
