/** Manifest parsing and validation for the four media types the registry accepts. */
import { IMAGE_MANIFEST_TYPES, INDEX_TYPES } from '../../image/types';
import { RegistryError } from './errors';
import { type Digest, parseDigest } from './names';
import type { ReferrerDescriptor } from './storage';

/** Layers that live elsewhere (`urls`) need not be pushed (distribution skips them too). */
const FOREIGN_LAYERS: readonly string[] = [
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
];

/** What the registry must check or index about a manifest. */
export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must exist in the repository (config, layers), with their declared sizes. */
  blobs: { digest: Digest; size: number }[];
  /** Manifests an index lists; they must exist in the repository. */
  children: Digest[];
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (message: string, detail?: unknown): RegistryError => new RegistryError('MANIFEST_INVALID', message, detail);

interface RawDescriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  urls?: unknown;
}

function descriptor(value: unknown, where: string): { digest: Digest; size: number; mediaType: string; urls: boolean } {
  if (typeof value !== 'object' || value === null) throw invalid(`${where} is not a descriptor`);
  const d = value as RawDescriptor;
  if (typeof d.mediaType !== 'string' || !d.mediaType) throw invalid(`${where} has no mediaType`);
  if (typeof d.digest !== 'string') throw invalid(`${where} has no digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where} has no valid size`);
  let digest: Digest;
  try {
    digest = parseDigest(d.digest);
  } catch {
    throw invalid(`${where} has an invalid digest`, { digest: d.digest });
  }
  return { digest, size: d.size, mediaType: d.mediaType, urls: Array.isArray(d.urls) && d.urls.length > 0 };
}

/**
 * Validate manifest bytes pushed with `contentType`. The media type comes from the Content-Type header; a
 * `mediaType` field in the JSON, when present, must agree with it.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest {
  const mediaType = (contentType ?? '').split(';')[0].trim();
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  const declared = typeof doc.mediaType === 'string' ? doc.mediaType : undefined;
  const type = mediaType || declared;
  if (!type || !IMAGE_MANIFEST_TYPES.has(type) && !INDEX_TYPES.has(type)) throw invalid(`unsupported manifest media type ${JSON.stringify(type ?? '')}`, { mediaType: type });
  if (declared !== undefined && declared !== type) throw invalid(`mediaType ${declared} does not match Content-Type ${type}`);
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');

  const parsed: ParsedManifest = { mediaType: type, blobs: [], children: [] };
  if (INDEX_TYPES.has(type)) {
    if (!Array.isArray(doc.manifests)) throw invalid('index has no manifests array');
    parsed.children = doc.manifests.map((m, i) => descriptor(m, `manifests[${i}]`).digest);
  } else {
    const config = descriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('manifest has no layers array');
    const layers = doc.layers.map((l, i) => descriptor(l, `layers[${i}]`));
    parsed.blobs = [config, ...layers.filter((l) => !(l.urls && FOREIGN_LAYERS.includes(l.mediaType)))].map(({ digest, size }) => ({ digest, size }));
    if (typeof doc.artifactType !== 'string') parsed.artifactType = config.mediaType;
  }
  if (typeof doc.artifactType === 'string') parsed.artifactType = doc.artifactType;
  if (doc.subject !== undefined) parsed.subject = descriptor(doc.subject, 'subject').digest;
  if (doc.annotations !== undefined) {
    if (typeof doc.annotations !== 'object' || doc.annotations === null) throw invalid('annotations must be an object');
    parsed.annotations = doc.annotations as Record<string, string>;
  }
  return parsed;
}

/** The descriptor of a manifest in a referrers response (artifactType falls back to the config media type). */
export function referrerDescriptor(m: ParsedManifest, digest: Digest, size: number): ReferrerDescriptor {
  const desc: ReferrerDescriptor = { mediaType: m.mediaType, digest: digest.text, size };
  if (m.artifactType !== undefined) desc.artifactType = m.artifactType;
  if (m.annotations !== undefined) desc.annotations = m.annotations;
  return desc;
}

/** True when an Accept header admits `mediaType` (no header, `*\/*` and `application/*` admit everything). */
export function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept || !accept.trim()) return true;
  return accept
    .split(',')
    .map((a) => a.split(';')[0].trim())
    .some((a) => a === mediaType || a === '*/*' || a === 'application/*');
}
