/**
 * Crafting hostile bytes: raw tar headers (for what tar-stream will not write: a pax path that differs from the ustar
 * name, global pax headers, GNU long names, bad checksums, sizes that lie), and image archives / registry images that
 * wrap a layer (docker-archive, OCI layout, a distribution manifest). Ordinary tars come from test/helpers/tarfixture.
 */
import * as crypto from 'node:crypto';
import * as zlib from 'node:zlib';
import { makeTar, type FixtureEntry } from '../helpers/tarfixture';

export const sha256 = (b: Buffer | string): string => crypto.createHash('sha256').update(b).digest('hex');
export const digestOf = (b: Buffer | string): string => `sha256:${sha256(b)}`;

export interface RawEntry {
  name: string;
  /** The ustar type flag: '0' file, '1' hardlink, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, 'x' pax, 'g' global pax, 'L' GNU long name. */
  flag?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  uid?: number;
  /** The size field written, when it must lie about the data that follows. */
  size?: number;
  badChecksum?: boolean;
  /** Pax records for an 'x' or 'g' entry (the entry's data is built from them). */
  pax?: Record<string, string>;
}

function octal(buf: Buffer, off: number, len: number, n: number): void {
  buf.write(n.toString(8).padStart(len - 1, '0').slice(-(len - 1)) + '\0', off, len, 'latin1');
}

export function paxData(records: Record<string, string>): Buffer {
  let out = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    out += len + body;
  }
  return Buffer.from(out, 'utf8');
}

function header(e: RawEntry, dataLen: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name.slice(0, 100), 0, 100, 'utf8');
  octal(h, 100, 8, e.mode ?? (e.flag === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, e.size ?? dataLen);
  octal(h, 136, 12, 0);
  h.write(e.flag ?? '0', 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname.slice(0, 100), 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 7;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

/** A tar from raw entries; `end: false` leaves out the end-of-archive blocks (a truncated tar). */
export function rawTar(entries: RawEntry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = e.pax ? paxData(e.pax) : Buffer.from(e.data ?? '');
    parts.push(header(e, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const tar = (entries: FixtureEntry[]): Promise<Buffer> => makeTar(entries);

/** The layer as its diffID sees it; a gzip that does not decompress is hashed as it is (its diffID is wrong anyway). */
function uncompressed(layer: Buffer): Buffer {
  if (layer[0] !== 0x1f || layer[1] !== 0x8b) return layer;
  try {
    return zlib.gunzipSync(layer);
  } catch {
    return layer;
  }
}

export interface ImageParts {
  /** Each layer as delivered (tar or gzip). */
  layers: Buffer[];
  /** The image config; its rootfs is filled with the layers' diffIDs unless `diffIds` is given. */
  config?: Record<string, unknown>;
  diffIds?: string[];
}

export function imageConfig(p: ImageParts): Buffer {
  const diffIds = p.diffIds ?? p.layers.map((l) => digestOf(uncompressed(l)));
  return Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: diffIds }, ...p.config }),
  );
}

export interface ArchiveOverrides {
  /** Replaces manifest.json entirely (string: raw bytes). */
  manifestJson?: unknown;
  /** More tar entries (e.g. an index.json). */
  extra?: FixtureEntry[];
}

/** A docker-archive (`docker save` format) holding one image made of `parts`, tagged `tag`. */
export async function dockerArchive(parts: ImageParts, tag: string, o: ArchiveOverrides = {}): Promise<Buffer> {
  const config = imageConfig(parts);
  const layerNames = parts.layers.map((l) => `${sha256(l)}/layer.tar`);
  const manifest = o.manifestJson ?? [{ Config: `${sha256(config)}.json`, RepoTags: [tag], Layers: layerNames }];
  const entries: FixtureEntry[] = [
    ...parts.layers.map((l, i) => ({ name: layerNames[i], data: l })),
    { name: `${sha256(config)}.json`, data: config },
    { name: 'manifest.json', data: typeof manifest === 'string' ? manifest : JSON.stringify(manifest) },
    ...(o.extra ?? []),
  ];
  return makeTar(entries);
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

/** An OCI image layout archive; `index` replaces index.json (given the manifest's descriptor), `blobs` adds blobs. */
export async function ociArchive(
  parts: ImageParts,
  o: { index?: (manifest: { digest: string; size: number }) => unknown; blobs?: Record<string, Buffer | string>; layerMediaType?: string } = {},
): Promise<Buffer> {
  const config = imageConfig(parts);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: parts.layers.map((l) => ({ mediaType: o.layerMediaType ?? 'application/vnd.oci.image.layer.v1.tar', digest: digestOf(l), size: l.length })),
    }),
  );
  const md = { digest: digestOf(manifest), size: manifest.length };
  const index = o.index?.(md) ?? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, ...md }] };
  const blob = (b: Buffer | string) => ({ name: `blobs/sha256/${sha256(b)}`, data: b });
  return makeTar([
    { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' },
    { name: 'index.json', data: typeof index === 'string' ? index : JSON.stringify(index) },
    blob(manifest),
    blob(config),
    ...parts.layers.map(blob),
    ...Object.entries(o.blobs ?? {}).map(([name, data]) => ({ name: `blobs/sha256/${name}`, data })),
  ]);
}

/** What the stub registry serves for one repository: manifests by tag or digest, blobs by digest. */
export interface StubRepo {
  manifests: Record<string, { body: Buffer; type: string }>;
  blobs: Record<string, Buffer>;
}

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

export interface ManifestOverrides {
  /** Edit the manifest object before it is serialized. */
  edit?: (m: { schemaVersion: number; mediaType: string; config: Record<string, unknown>; layers: Record<string, unknown>[] }) => unknown;
  /** Serve these bytes as the manifest instead. */
  raw?: Buffer | string;
  contentType?: string;
  /** Replace the bytes served for blob digests (a blob that does not match its digest). */
  blobOverride?: Record<string, Buffer>;
}

/** A registry image (docker v2 schema 2 manifest) made of `parts`, tagged latest. */
export function stubImage(parts: ImageParts, o: ManifestOverrides = {}): StubRepo {
  const config = imageConfig(parts);
  const blobs: Record<string, Buffer> = { [digestOf(config)]: config };
  for (const l of parts.layers) blobs[digestOf(l)] = l;
  const m = {
    schemaVersion: 2,
    mediaType: DOCKER_MANIFEST,
    config: { mediaType: DOCKER_CONFIG, digest: digestOf(config), size: config.length } as Record<string, unknown>,
    layers: parts.layers.map((l) => ({ mediaType: DOCKER_LAYER, digest: digestOf(l), size: l.length }) as Record<string, unknown>),
  };
  const body = o.raw !== undefined ? Buffer.from(o.raw) : Buffer.from(JSON.stringify(o.edit ? o.edit(m) : m));
  const served = { body, type: o.contentType ?? DOCKER_MANIFEST };
  return { manifests: { latest: served, [digestOf(body)]: served }, blobs: { ...blobs, ...o.blobOverride } };
}

/** An image index (manifest list) chain `depth` deep: each index points at the next; the last points at `leaf`. */
export function indexChain(depth: number, leaf: StubRepo): StubRepo {
  const leafBody = leaf.manifests.latest.body;
  let child = { mediaType: DOCKER_MANIFEST, digest: digestOf(leafBody), size: leafBody.length };
  const repo: StubRepo = { manifests: { [child.digest]: leaf.manifests.latest }, blobs: leaf.blobs };
  let top = leaf.manifests.latest;
  for (let i = 0; i < depth; i++) {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [{ ...child, platform: { architecture: 'amd64', os: 'linux' } }] }));
    top = { body, type: DOCKER_LIST };
    repo.manifests[digestOf(body)] = top;
    child = { mediaType: DOCKER_LIST, digest: digestOf(body), size: body.length };
  }
  repo.manifests.latest = top;
  return repo;
}
