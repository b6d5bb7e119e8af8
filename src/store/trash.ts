/**
 * Crash-safe removal: an object is renamed into the trash (one atomic rename on the same filesystem, made durable),
 * then deleted. A crash before the rename leaves the object whole; after it, only trash, which the next start (or
 * `system check --repair`) deletes. Never a half-removed record next to a live name.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir } from '../common/atomic';
import { failpoint } from '../common/failpoint';
import { log } from '../common/log';
import { mountsUnder, unmountOverlay } from './overlay';

export class Trash {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Move `target` (file or directory) into the trash, then delete it. A missing target is a no-op. */
  discard(target: string, kind: string, id: string): void {
    const to = path.join(this.dir, `${kind}-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}-${crypto.randomBytes(4).toString('hex')}`);
    try {
      fs.renameSync(target, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    fsyncDir(path.dirname(target));
    fsyncDir(this.dir);
    failpoint(`trash:${kind}`); // the fault suite stops here: the object has left its name, its bytes are still there
    // The object is gone already (its name is free); what cannot be deleted now stays in the trash for the next start.
    this.delete(to);
  }

  /** What a crash left in the trash (names). */
  list(): string[] {
    return fs.readdirSync(this.dir);
  }

  /** Finish interrupted removals; returns how many entries went. */
  empty(): number {
    return this.list().filter((n) => this.delete(path.join(this.dir, n))).length;
  }

  /** Delete one entry; a mount found inside (a rootfs a crash left mounted) is detached first, never recursed into. */
  private delete(entry: string): boolean {
    try {
      for (const m of mountsUnder(entry).reverse()) unmountOverlay(m);
      fs.rmSync(entry, { recursive: true, force: true });
      return true;
    } catch (e) {
      log.warn('could not delete trash entry; it stays for the next start', { entry, error: String(e) });
      return false;
    }
  }
}
