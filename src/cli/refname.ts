/**
 * Just enough of distribution/reference for the CLI: validate a name, normalise it ("busybox" ->
 * "docker.io/library/busybox") for pull/tag queries, and give docker's familiar form for messages.
 * (The engine has its own parser; the CLI keeps this copy to stay free of engine imports.)
 */
export interface ImageRef { name: string; familiar: string; tag?: string; digest?: string }

const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

export function parseImageRef(input: string): ImageRef {
  let rest = input;
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new Error('invalid reference format');
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new Error('invalid reference format');
  }
  if (!rest || rest.length > 255) throw new Error('invalid reference format');
  const slash = rest.indexOf('/');
  let domain = 'docker.io';
  let path = rest;
  const first = slash < 0 ? '' : rest.slice(0, slash);
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first)) {
    domain = first;
    path = rest.slice(slash + 1);
    if (!DOMAIN.test(domain)) throw new Error('invalid reference format');
  }
  if (path.toLowerCase() !== path) throw new Error(`invalid reference format: repository name (${path}) must be lowercase`);
  if (!path.split('/').every((c) => COMPONENT.test(c))) throw new Error('invalid reference format');
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const name = `${domain}/${path}`;
  let familiar = name;
  if (domain === 'docker.io') familiar = path.startsWith('library/') && path.split('/').length === 2 ? path.slice(8) : path;
  return { name, familiar, tag, digest };
}

/** "busybox" -> "busybox:latest" (reference.TagNameOnly + FamiliarString). */
export function familiarWithTag(r: ImageRef): string {
  if (r.digest) return `${r.familiar}${r.tag ? ':' + r.tag : ''}@${r.digest}`;
  return `${r.familiar}:${r.tag ?? 'latest'}`;
}
