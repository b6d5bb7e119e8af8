/** Docker Engine API JSON shapes for images (GET /images/json, /images/{name}/json, /images/{name}/history). */
import { familiarName, familiarString, type Reference } from './reference';
import type { ImageRecord, ImageStore } from './store';
import type { HistoryEntry, ImageConfig } from './types';
import { labelMatches, type Filters } from '../common/filters';
import type { ContainerConfig } from '../schema/container';

export interface ImageSummary {
  Containers: number;
  Created: number;
  Id: string;
  Labels: Record<string, string> | null;
  ParentId: string;
  RepoDigests: string[];
  RepoTags: string[];
  SharedSize: number;
  Size: number;
  VirtualSize: number;
}

export interface HistoryItem {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

const unix = (t?: string): number => (t ? Math.floor(Date.parse(t) / 1000) || 0 : 0);

/** Docker's container.Config with every key present, as docker returns it in image inspect. */
export function fullContainerConfig(c: ContainerConfig | undefined): Record<string, unknown> {
  return {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false,
    Tty: false, OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null,
    WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
    ...(c ?? {}),
  };
}

export const tagsOf = (refs: Reference[]): string[] => refs.filter((r) => !r.digest).map(familiarString);
export const digestsOf = (refs: Reference[]): string[] => refs.filter((r) => r.digest).map((r) => `${familiarName(r)}@${r.digest}`);

export function imageSize(store: ImageStore, cfg: ImageConfig): number {
  return cfg.rootfs.diff_ids.reduce((n, d) => n + store.layers.size(d), 0);
}

export function summary(store: ImageStore, rec: ImageRecord, refs: Reference[]): ImageSummary {
  const cfg = store.config(rec.id);
  const size = imageSize(store, cfg);
  const tags = tagsOf(refs);
  const digests = digestsOf(refs);
  const none = tags.length === 0 && digests.length === 0;
  return {
    Containers: -1,
    Created: unix(cfg.created),
    Id: rec.id,
    Labels: cfg.config?.Labels ?? null,
    ParentId: rec.parent ?? '',
    RepoDigests: none ? ['<none>@<none>'] : digests,
    RepoTags: none ? ['<none>:<none>'] : tags,
    SharedSize: -1,
    Size: size,
    VirtualSize: size,
  };
}

export function inspect(store: ImageStore, rec: ImageRecord): Record<string, unknown> {
  const cfg = store.config(rec.id);
  const refs = store.refsOf(rec.id);
  const size = imageSize(store, cfg);
  const dirs = store.layers.lowerDirs(cfg.rootfs.diff_ids);
  const data: Record<string, string> = {};
  if (dirs.length) data.UpperDir = dirs[0];
  if (dirs.length > 1) data.LowerDir = dirs.slice(1).join(':');
  return {
    Id: rec.id,
    RepoTags: tagsOf(refs),
    RepoDigests: digestsOf(refs),
    Parent: rec.parent ?? '',
    Comment: cfg.comment ?? '',
    Created: cfg.created ?? '0001-01-01T00:00:00Z',
    Container: cfg.container ?? '',
    ContainerConfig: fullContainerConfig(cfg.container_config),
    DockerVersion: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    Config: fullContainerConfig(cfg.config),
    Architecture: cfg.architecture,
    ...(cfg.variant ? { Variant: cfg.variant } : {}),
    Os: cfg.os,
    Size: size,
    VirtualSize: size,
    GraphDriver: { Name: 'overlay2', Data: data },
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    Metadata: { LastTagTime: rec.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
}

/** Newest first; a history entry gets an image id where it is the last entry of this image or of an ancestor. */
export function history(store: ImageStore, rec: ImageRecord): HistoryItem[] {
  const cfg = store.config(rec.id);
  const hist: HistoryEntry[] = cfg.history?.length ? cfg.history : cfg.rootfs.diff_ids.map(() => ({}));
  const ids = new Map<number, string>();
  for (let r: ImageRecord | undefined = rec; r; r = r.parent ? store.get(r.parent) : undefined) {
    const n = store.config(r.id).history?.length ?? store.config(r.id).rootfs.diff_ids.length;
    if (n > 0 && !ids.has(n - 1)) ids.set(n - 1, r.id);
  }
  let layer = 0;
  const items = hist.map((h, i): HistoryItem => {
    const diffId = h.empty_layer ? undefined : cfg.rootfs.diff_ids[layer++];
    const size = diffId ? store.layers.size(diffId) : 0;
    const id = ids.get(i);
    const tags = id ? tagsOf(store.refsOf(id)) : [];
    return { Id: id ?? '<missing>', Created: unix(h.created), CreatedBy: h.created_by ?? '', Tags: tags.length ? tags : null, Size: size, Comment: h.comment ?? '' };
  });
  return items.reverse();
}

/** Go's path.Match, enough for reference filters (`*`, `?`, `[...]`). */
export function globMatch(pattern: string, s: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      re += `[${pattern.slice(i + 1, end).replace(/^\^/, '^').replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(s);
}

/** reference.FamiliarMatch: the pattern against `name:tag` or against the name alone. */
export const referenceMatches = (pattern: string, r: Reference): boolean => globMatch(pattern, familiarString(r)) || globMatch(pattern, familiarName(r));

/** `label=key` / `label=key=value` against image labels: all must match. */
export const labelsMatch = (wanted: string[], labels: Record<string, string> | undefined): boolean => wanted.every((w) => labelMatches(labels, w));

/** The single boolean value of the `dangling` filter, or undefined. */
export function danglingFilter(filters: Filters): boolean | undefined {
  const v = filters.dangling;
  if (!v?.length) return undefined;
  const set = new Set(v.map((x) => x.toLowerCase()));
  // docker 24 prints the values as Go prints a []string
  const invalid = () => new Error(`invalid filter 'dangling=[${v.join(' ')}]'`);
  for (const x of set) if (!['true', 'false', '1', '0'].includes(x)) throw invalid();
  if (set.size > 1 && !(set.size === 2 && ((set.has('true') && set.has('1')) || (set.has('false') && set.has('0'))))) throw invalid();
  return set.has('true') || set.has('1');
}
