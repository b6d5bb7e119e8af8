/**
 * What a layer tar may contain. Checked per entry while the tar streams, before GNU tar sees the entry's bytes.
 * Also collects the OCI whiteouts so they can be converted to overlay form afterwards.
 */
import * as path from 'node:path';
import type { TarEntry } from './tarscan';

export class LayerError extends Error {}

export const whiteoutPrefix = '.wh.';
export const opaqueMarker = '.wh..wh..opq';

/** Split a tar member name into clean components; refuses absolute names and `..`. */
export function components(name: string, what = 'entry'): string[] {
  if (name.startsWith('/')) throw new LayerError(`${what} ${JSON.stringify(name)} is an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new LayerError(`${what} ${JSON.stringify(name)} has a ".." path component`);
  return parts;
}

export class TarPolicy {
  /** Paths (clean, relative) of symlinks met so far in this tar. */
  private readonly symlinks = new Set<string>();
  /** Paths of `.wh.NAME` entries and of directories marked opaque. */
  readonly whiteouts: string[] = [];
  readonly opaqueDirs: string[] = [];
  /** AUFS metadata (`.wh..wh.plnk` ...): meaningless for overlay, removed after extraction. */
  readonly aufsMeta: string[] = [];

  /** Entry types are already restricted by TarScanner. */
  check(h: TarEntry): void {
    const type = h.type;
    const parts = components(h.name);
    if (parts.length === 0) {
      if (type === 'directory') return; // "./" itself
      throw new LayerError(`entry ${JSON.stringify(h.name)} has an empty name`);
    }
    const rel = parts.join('/');
    this.refuseSymlinkAncestor(parts, `entry ${JSON.stringify(h.name)}`);
    if (type === 'link') this.checkHardlink(h.name, h.linkname);
    if (type === 'symlink') {
      this.checkSymlink(h.name, parts, h.linkname);
      this.symlinks.add(rel);
    } else {
      this.symlinks.delete(rel);
    }
    this.noteWhiteout(parts, rel);
  }

  private refuseSymlinkAncestor(parts: string[], what: string): void {
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (this.symlinks.has(dir)) throw new LayerError(`${what} goes through the symlink ${JSON.stringify(dir)} of the same layer`);
    }
  }

  private checkHardlink(name: string, target: string): void {
    if (!target) throw new LayerError(`hardlink ${JSON.stringify(name)} has no target`);
    const parts = components(target, `hardlink ${JSON.stringify(name)} target`);
    this.refuseSymlinkAncestor(parts, `hardlink ${JSON.stringify(name)} target ${JSON.stringify(target)}`);
  }

  /** Absolute targets are resolved inside the container's root at run time; relative ones must not climb above it. */
  private checkSymlink(name: string, parts: string[], target: string): void {
    if (!target) throw new LayerError(`symlink ${JSON.stringify(name)} has no target`);
    if (target.startsWith('/')) return;
    let depth = parts.length - 1;
    for (const p of target.split('/')) {
      if (p === '..') depth--;
      else if (p !== '' && p !== '.') depth++;
      if (depth < 0) throw new LayerError(`symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)} points outside the layer`);
    }
  }

  private noteWhiteout(parts: string[], rel: string): void {
    const base = parts[parts.length - 1];
    if (!base.startsWith(whiteoutPrefix)) return;
    if (base === opaqueMarker) this.opaqueDirs.push(path.posix.dirname(rel));
    else if (base.startsWith(`${whiteoutPrefix}${whiteoutPrefix}`)) this.aufsMeta.push(rel);
    else if (base === whiteoutPrefix) throw new LayerError(`entry ${JSON.stringify(rel)} is a whiteout without a name`);
    else this.whiteouts.push(rel);
  }
}
