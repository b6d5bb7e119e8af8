/**
 * The build cache on disk: one atomic JSON file per step key (<dir>/<key hex>.json -> the image the step made).
 * A hit counts only while that image is whole in the store, so a removed or damaged image is never "reused".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson, removeStaleTemps, writeJsonAtomic } from '../common/atomic';

interface Entry {
  image: string;
  created: string;
}

export class BuildCache {
  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    removeStaleTemps(dir);
  }

  private file(key: string): string {
    if (!/^sha256:[a-f0-9]{64}$/.test(key)) throw new Error(`invalid cache key ${key}`);
    return path.join(this.dir, `${key.slice(7)}.json`);
  }

  /** The image a step made before, if it is still whole (`valid`). */
  get(key: string, valid: (image: string) => boolean): string | undefined {
    let entry: Entry | undefined;
    try {
      entry = readJson<Entry>(this.file(key));
    } catch {
      return undefined; // a torn or foreign file is a miss
    }
    return entry && valid(entry.image) ? entry.image : undefined;
  }

  /** Forget the steps cached before `before` (ms since the epoch; all when undefined); returns their keys. */
  prune(before?: number): string[] {
    const removed: string[] = [];
    for (const name of fs.readdirSync(this.dir)) {
      const m = /^([a-f0-9]{64})\.json$/.exec(name);
      if (!m) continue;
      const file = path.join(this.dir, name);
      if (before !== undefined) {
        let created: number;
        try {
          created = Date.parse(readJson<Entry>(file)?.created ?? '');
        } catch {
          created = NaN; // torn: prune it
        }
        if (created >= before) continue;
      }
      fs.rmSync(file, { force: true });
      removed.push(`sha256:${m[1]}`);
    }
    return removed;
  }

  set(key: string, image: string): void {
    writeJsonAtomic(this.file(key), { image, created: new Date().toISOString() } satisfies Entry);
  }
}
