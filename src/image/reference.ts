/**
 * Image references parsed and normalized exactly as docker's distribution/reference does
 * (ParseNormalizedNamed, ParseAnyReference, FamiliarString, TagNameOnly), with docker's error messages.
 */

export const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepoPrefix = 'library/';
const nameTotalLengthMax = 255;

// Grammar from distribution/reference/regexp.go.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainNameComponent}(?:\\.${domainNameComponent})*|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePat = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const referenceRe = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const anchoredTagRe = new RegExp(`^${tagPat}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;
const shortIdentifierRe = /^[a-f0-9]{6,64}$/;

/** A normalized reference: domain + path always present; tag and/or digest optional. */
export interface Reference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

export class ReferenceError extends Error {}

/** Validate a content digest like go-digest's Parse (only sha256/sha384/sha512 are known algorithms). */
export function validateDigest(s: string): string {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw new ReferenceError('invalid checksum digest format');
  const alg = s.slice(0, i);
  const enc = s.slice(i + 1);
  const lengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  if (!(alg in lengths)) {
    if (!new RegExp(`^${digestPat}$`).test(s)) throw new ReferenceError('invalid checksum digest format');
    throw new ReferenceError('unsupported digest algorithm');
  }
  if (enc.length !== lengths[alg]) throw new ReferenceError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(enc)) throw new ReferenceError('invalid checksum digest format');
  return s;
}

/** distribution/reference.Parse: the fully-qualified grammar, no normalization. */
function parseStrict(s: string): Reference {
  const m = referenceRe.exec(s);
  if (!m) {
    if (s === '') throw new ReferenceError('repository name must have at least one component');
    if (referenceRe.test(s.toLowerCase())) throw new ReferenceError('repository name must be lowercase');
    throw new ReferenceError('invalid reference format');
  }
  const name = m[1];
  if (name.length > nameTotalLengthMax) throw new ReferenceError(`repository name must not be more than ${nameTotalLengthMax} characters`);
  const [domain, path] = splitDomain(name);
  const ref: Reference = { domain, path };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = validateDigest(m[3]);
  return ref;
}

/** After normalization the first component is always the domain (Parse's greedy domain group does the same). */
function splitDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  return i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)];
}

/** splitDockerDomain: which part of a user-typed name is a registry host. */
function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = defaultDomain;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes('/')) remainder = officialRepoPrefix + remainder;
  return [domain, remainder];
}

/** ParseNormalizedNamed: `busybox` -> docker.io/library/busybox (no tag added). */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRe.test(s)) {
    throw new ReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remoteName = colon > -1 ? remainder.slice(0, colon) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new ReferenceError(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  const ref = parseStrict(`${domain}/${remainder}`);
  if (!ref.domain) throw new ReferenceError('invalid reference format');
  return ref;
}

/** ParseAnyReference: a bare 64-hex id or `sha256:<hex>` is a digest reference, anything else a name. */
export function parseAnyReference(s: string): { id: string } | Reference {
  if (anchoredIdentifierRe.test(s)) return { id: `sha256:${s}` };
  try {
    return { id: validateDigest(s) };
  } catch {
    // not a digest (e.g. `busybox:latest`): a name
  }
  return parseNormalizedNamed(s);
}

/** Whether a user string could be a short image id (docker's stringid/digestset prefix lookup). */
export const isShortId = (s: string): boolean => shortIdentifierRe.test(s.replace(/^sha256:/, ''));

/** WithTag's validation. */
export function validateTag(tag: string): string {
  if (!anchoredTagRe.test(tag)) throw new ReferenceError('invalid tag format');
  return tag;
}

/** TagNameOnly: add `latest` when the reference has neither tag nor digest. */
export const tagNameOnly = (r: Reference): Reference => (r.tag || r.digest ? r : { ...r, tag: 'latest' });

/** The full repository name, e.g. docker.io/library/busybox. */
export const repoName = (r: Reference): string => `${r.domain}/${r.path}`;

/** The full reference string, e.g. docker.io/library/busybox:latest. */
export const fullString = (r: Reference): string => repoName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');

/** FamiliarName: docker.io/library/busybox -> busybox, docker.io/me/app -> me/app. */
export function familiarName(r: Reference): string {
  if (r.domain !== defaultDomain) return repoName(r);
  const rest = r.path.slice(officialRepoPrefix.length);
  return r.path.startsWith(officialRepoPrefix) && !rest.includes('/') ? rest : r.path;
}

/** FamiliarString, e.g. busybox:latest or 127.0.0.1:5000/app@sha256:.. */
export const familiarString = (r: Reference): string =>
  familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');

/** Parse a stored full reference string (as written by fullString) back. */
export const parseStored = (s: string): Reference => parseStrict(s);
