/** Validation of everything a URL carries (repository names, tags, digests, upload ids) before it touches a path. */
import { RegistryError } from './errors';

/** Repository name grammar of the distribution spec; its components can never be `.`, `..` or start with `_`. */
const NAME_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Supported algorithms and the hex length of their encoded part. */
const ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };
const MAX_NAME = 255;

export interface Digest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
  /** `algorithm:hex` */
  text: string;
}

export function validateName(name: string): string {
  if (name.length > MAX_NAME || !NAME_RE.test(name)) throw new RegistryError('NAME_INVALID', 'invalid repository name', { name });
  return name;
}

export const isTag = (ref: string): boolean => TAG_RE.test(ref);

export function validateTag(tag: string): string {
  if (!isTag(tag)) throw new RegistryError('MANIFEST_INVALID', 'invalid tag', { tag });
  return tag;
}

/** Parse a digest; anything but a well-formed sha256/sha512 digest is DIGEST_INVALID. */
export function parseDigest(text: string): Digest {
  const m = DIGEST_RE.exec(text);
  if (!m) throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: text });
  const [, algorithm, hex] = m;
  const len = ALGORITHMS[algorithm];
  if (len === undefined) throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`, { digest: text });
  if (hex.length !== len || !/^[0-9a-f]+$/.test(hex)) throw new RegistryError('DIGEST_INVALID', `invalid ${algorithm} digest`, { digest: text });
  return { algorithm: algorithm as Digest['algorithm'], hex, text };
}

export function validateUploadId(id: string): string {
  if (!UPLOAD_ID_RE.test(id)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });
  return id;
}
