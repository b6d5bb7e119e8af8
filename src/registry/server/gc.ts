/**
 * Mark-and-sweep garbage collection of the blob store: a blob survives when some manifest of some repository is it
 * or references it (config, layers, index children). Run it while the registry is stopped or read-only, as with
 * distribution: a blob pushed for a manifest not yet pushed looks unreferenced.
 */
import { parseManifest } from './manifests';
import type { Digest } from './names';
import { RegistryStorage } from './storage';

export interface GcResult {
  /** Digests of the blobs deleted (or that would be, in a dry run), sorted. */
  deleted: string[];
  /** How many blobs are referenced and kept. */
  kept: number;
}

export async function garbageCollect(root: string, opts: { dryRun?: boolean } = {}): Promise<GcResult> {
  const storage = new RegistryStorage(root);
  const marked = new Set<string>();
  for (const repo of await storage.repositories()) {
    for (const rev of await storage.revisions(repo)) {
      const found = await storage.getManifest(repo, rev);
      if (!found) continue;
      marked.add(rev.text);
      const m = parseManifest(found.bytes, found.record.mediaType);
      for (const b of m.blobs) marked.add(b.digest.text);
      for (const c of m.children) marked.add(c.text);
    }
  }
  const doomed: Digest[] = [];
  let kept = 0;
  for await (const d of storage.allBlobs()) {
    if (marked.has(d.text)) kept++;
    else doomed.push(d);
  }
  if (!opts.dryRun) {
    const repos = await storage.repositories('_layers');
    for (const d of doomed) {
      await storage.removeBlob(d);
      for (const repo of repos) await storage.unlinkBlob(repo, d);
    }
  }
  return { deleted: doomed.map((d) => d.text).sort(), kept };
}
