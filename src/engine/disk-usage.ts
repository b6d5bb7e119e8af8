/** `GET /system/df`: what images, containers, volumes and the build cache hold on disk, as dockerd counts it. */
import { treeSize } from '../common/tree-size';
import type { ImageService } from '../image/service';
import type { ImageSummary } from '../image/view';
import type { ContainerStore, ContainerRecord } from './containers/record';
import type { DockerVolume, VolumeService } from './volumes';

export type UsageKind = 'container' | 'image' | 'volume' | 'build-cache';
export const USAGE_KINDS: readonly UsageKind[] = ['container', 'image', 'volume', 'build-cache'];

export interface DiskUsage {
  LayersSize?: number;
  Images: (ImageSummary & { Containers: number })[] | null;
  Containers: { rec: ContainerRecord; sizeRw: number; sizeRootFs: number }[] | null;
  Volumes: (DockerVolume & { UsageData: { Size: number; RefCount: number } })[] | null;
  BuildCache: [] | null;
}

export interface DiskUsageDeps {
  store: ContainerStore;
  images: ImageService;
  volumes: VolumeService;
}

/** SizeRw (the upper dir) and SizeRootFs (that plus the image) of containers, as `ps --size` and df show them. */
export function containerSizes(d: DiskUsageDeps, recs: ContainerRecord[], images = d.images.usage().images): { rec: ContainerRecord; sizeRw: number; sizeRootFs: number }[] {
  const sizeOf = new Map(images.map((i) => [i.Id, i.Size]));
  return recs.map((rec) => {
    const sizeRw = treeSize(d.store.paths(rec.Id).upper);
    return { rec, sizeRw, sizeRootFs: sizeRw + (sizeOf.get(rec.Image) ?? 0) };
  });
}

export function diskUsage(d: DiskUsageDeps, kinds: readonly UsageKind[]): DiskUsage {
  const all = d.store.all();
  const imageUsage = kinds.includes('image') || kinds.includes('container') ? d.images.usage() : undefined;
  const out: DiskUsage = { Images: null, Containers: null, Volumes: null, BuildCache: null };
  if (kinds.includes('image') && imageUsage) {
    out.LayersSize = imageUsage.layersSize;
    out.Images = imageUsage.images.map((img) => ({ ...img, Containers: all.filter((c) => c.Image === img.Id).length }));
  }
  if (kinds.includes('container')) {
    out.Containers = containerSizes(d, all, imageUsage?.images);
  }
  if (kinds.includes('volume')) {
    out.Volumes = d.volumes.list({}).Volumes.map((v) => ({
      ...v,
      UsageData: { Size: treeSize(v.Mountpoint), RefCount: d.volumes.users(v.Name).length },
    }));
  }
  // The builder keeps no cache records of BuildKit's kind: its step cache is image layers, counted above.
  if (kinds.includes('build-cache')) out.BuildCache = [];
  return out;
}
