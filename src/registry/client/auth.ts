/**
 * Registry credentials and the auth challenge: docker's X-Registry-Auth header (base64url JSON), the
 * `WWW-Authenticate` challenge (Basic or Bearer realm/service/scope) and what an Authorization header becomes.
 */

/** docker's types/registry.AuthConfig, as sent in X-Registry-Auth and POST /auth. */
export interface AuthConfig {
  username?: string;
  password?: string;
  /** base64("user:pass"), as stored in config.json. */
  auth?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

export class RegistryAuthError extends Error {}

/** Decode X-Registry-Auth: base64url (or plain base64) JSON; empty or `e30=` is anonymous. */
export function decodeAuthHeader(header: string | undefined): AuthConfig {
  if (!header) return {};
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  } catch {
    throw new RegistryAuthError('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  if (!json || typeof json !== 'object') throw new RegistryAuthError('invalid X-Registry-Auth header: not a JSON object');
  return normalizeAuth(json as AuthConfig);
}

/** base64url JSON, as the docker CLI encodes X-Registry-Auth. */
export const encodeAuthHeader = (a: AuthConfig): string => Buffer.from(JSON.stringify(a)).toString('base64url');

/** Fill username/password from `auth` (config.json's base64 "user:pass") when only that is given. */
export function normalizeAuth(a: AuthConfig): AuthConfig {
  if (a.auth && !a.username && !a.password) {
    const plain = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) return { ...a, username: plain.slice(0, i), password: plain.slice(i + 1) };
  }
  return a;
}

export const hasCredentials = (a: AuthConfig): boolean => !!(a.username || a.identitytoken || a.registrytoken);

/** Parse one WWW-Authenticate value, e.g. `Bearer realm="https://auth",service="reg",scope="repository:a:pull"`. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null && p[0] !== '') params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme, params };
}

/** The token scope docker asks for: `repository:<path>:pull` or `...:pull,push`. */
export const repoScope = (path: string, push: boolean): string => `repository:${path}:${push ? 'pull,push' : 'pull'}`;

export const basicHeader = (a: AuthConfig): string => `Basic ${Buffer.from(`${a.username ?? ''}:${a.password ?? ''}`).toString('base64')}`;

/** The token endpoint's URL for a bearer challenge and scopes (space-separated; each becomes a `scope` parameter). */
export function tokenUrl(ch: Challenge, scope: string | undefined): URL {
  const realm = ch.params.realm;
  if (!realm) throw new RegistryAuthError('bearer challenge without a realm');
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new RegistryAuthError(`bearer challenge with an invalid realm: ${realm}`);
  }
  if (ch.params.service) url.searchParams.set('service', ch.params.service);
  for (const s of scope?.split(' ').filter(Boolean) ?? []) url.searchParams.append('scope', s);
  return url;
}

/** The token in a token endpoint's reply (`token` or OAuth2's `access_token`). */
export function tokenFromReply(body: string): string {
  let j: { token?: string; access_token?: string };
  try {
    j = JSON.parse(body) as typeof j;
  } catch {
    throw new RegistryAuthError('token server replied with something that is not JSON');
  }
  const t = j.token || j.access_token;
  if (!t) throw new RegistryAuthError('token server replied without a token');
  return t;
}
