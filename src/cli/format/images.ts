/** `images` rows as docker/cli's imageContext renders them (one row per repository:tag). */
import type { ImageSummary } from '../../client/types';
import { goTimeString, humanSizeWithPrecision, timeAgo, truncateId } from '../../common/units';

export const DEFAULT_IMAGES_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const DIGEST_IMAGES_FORMAT = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

export const IMAGES_HEADER: Record<string, unknown> = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS', VirtualSize: 'VIRTUAL SIZE',
  SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE',
};

/** Picks the --format for images the way NewImageFormat does. */
export function imagesFormat(format: string, quiet: boolean, digests: boolean): string {
  if (quiet) return '{{.ID}}';
  if (!format || format === 'table') return digests ? DIGEST_IMAGES_FORMAT : DEFAULT_IMAGES_FORMAT;
  return format;
}

const size = (n: number | undefined): string => (n === undefined || n < 0 ? 'N/A' : humanSizeWithPrecision(n, 3));

export class ImageContext {
  constructor(private readonly i: ImageSummary, readonly Repository: string, readonly Tag: string,
    readonly Digest: string, private readonly trunc: boolean, private readonly now = Date.now()) {}

  get ID(): string {
    return this.trunc ? truncateId(this.i.Id) : this.i.Id;
  }
  get CreatedSince(): string {
    return timeAgo(this.i.Created, this.now);
  }
  get CreatedAt(): string {
    return goTimeString(new Date(this.i.Created * 1000));
  }
  get Size(): string {
    return humanSizeWithPrecision(this.i.Size, 3);
  }
  get Containers(): string {
    return this.i.Containers === undefined || this.i.Containers < 0 ? 'N/A' : String(this.i.Containers);
  }
  get VirtualSize(): string {
    return size(this.i.VirtualSize ?? this.i.Size);
  }
  get SharedSize(): string {
    return size(this.i.SharedSize);
  }
  get UniqueSize(): string {
    const shared = this.i.SharedSize ?? -1;
    return shared < 0 || this.i.Size < 0 ? 'N/A' : humanSizeWithPrecision(this.i.Size - shared, 3);
  }

  toJSON(): Record<string, string> {
    const keys = ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize'];
    return Object.fromEntries(keys.map((k) => [k, (this as unknown as Record<string, string>)[k]]));
  }
}

/** Splits "repo:tag" at the tag's colon (not a registry port's) and "repo@sha256:..." at the '@'. */
function splitRef(ref: string, sep: ':' | '@'): [string, string] | null {
  const i = sep === '@' ? ref.indexOf('@') : ref.lastIndexOf(':');
  if (i < 0 || (sep === ':' && ref.indexOf('/', i) >= 0)) return null;
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** Expands image summaries into rows: one per tag (times each digest with --digests), "<none>" for dangling. */
export function imageRows(images: ImageSummary[], opts: { trunc: boolean; digests: boolean }, now = Date.now()): ImageContext[] {
  const rows: ImageContext[] = [];
  for (const img of images) {
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    const digestRefs = (img.RepoDigests ?? []).filter((d) => d !== '<none>@<none>');
    const add = (repo: string, tag: string, digest: string): void => void rows.push(new ImageContext(img, repo, tag, digest, opts.trunc, now));
    if (tags.length === 0 && digestRefs.length === 0) {
      add('<none>', '<none>', '<none>');
      continue;
    }
    const repoTags = new Map<string, string[]>();
    const repoDigests = new Map<string, string[]>();
    for (const t of tags) {
      const p = splitRef(t, ':');
      if (p) repoTags.set(p[0], [...(repoTags.get(p[0]) ?? []), p[1]]);
    }
    for (const d of digestRefs) {
      const p = splitRef(d, '@');
      if (p) repoDigests.set(p[0], [...(repoDigests.get(p[0]) ?? []), p[1]]);
    }
    for (const [repo, repoTagList] of repoTags) {
      const digests = opts.digests ? repoDigests.get(repo) ?? [] : [];
      repoDigests.delete(repo);
      for (const tag of repoTagList) {
        if (digests.length === 0) add(repo, tag, '<none>');
        else for (const d of digests) add(repo, tag, d);
      }
    }
    for (const [repo, digests] of repoDigests) {
      if (opts.digests) for (const d of digests) add(repo, '<none>', d);
      else add(repo, '<none>', '');
    }
  }
  return rows;
}
