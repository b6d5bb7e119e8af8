/**
 * What Berth remembers about registries (docker's distribution metadata): the gzip blob a stored layer became when
 * pushed (so the next push is "Layer already exists" and its manifest is the same), and where blobs were seen
 * (host/repository, for cross-repository mounts).
 */
import * as path from 'node:path';
import { readJson, writeJsonAtomic } from '../../common/atomic';

export interface BlobRef {
  digest: string;
  size: number;
}

interface MetaFile {
  compressed: Record<string, BlobRef>;
  sources: Record<string, string[]>;
}

/** A blob is remembered in at most this many repositories. */
const MAX_SOURCES = 8;

export class DistributionMeta {
  private readonly file: string;
  private data: MetaFile;

  constructor(dir: string) {
    this.file = path.join(dir, 'distribution.json');
    this.data = readJson<MetaFile>(this.file) ?? { compressed: {}, sources: {} };
  }

  /** The pushed gzip form of a local uncompressed blob. */
  compressed(local: string): BlobRef | undefined {
    return this.data.compressed[local];
  }

  setCompressed(local: string, blob: BlobRef): void {
    this.data = { ...this.data, compressed: { ...this.data.compressed, [local]: blob } };
    this.save();
  }

  /** Repositories (host/path) known to hold a blob. */
  sources(digest: string): string[] {
    return this.data.sources[digest] ?? [];
  }

  addSource(digest: string, repo: string): void {
    const prev = this.sources(digest);
    if (prev[0] === repo) return;
    this.data = { ...this.data, sources: { ...this.data.sources, [digest]: [repo, ...prev.filter((r) => r !== repo)].slice(0, MAX_SOURCES) } };
    this.save();
  }

  private save(): void {
    writeJsonAtomic(this.file, this.data);
  }
}
