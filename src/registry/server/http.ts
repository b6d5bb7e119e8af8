/** Request parsing, routing and reply helpers shared by the registry handlers. */
import type * as http from 'node:http';
import { RegistryError } from './errors';
import { validateName } from './names';
import type { RegistryStorage } from './storage';
import type { Uploads } from './uploads';

export type RouteKind = 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'uploads' | 'upload' | 'referrers';

export interface Route {
  kind: RouteKind;
  /** Repository name (validated) for repository routes. */
  name: string;
  /** The last path segment: reference, digest or upload id, not yet validated. */
  arg: string;
}

/** Tried in order; the name group is greedy, so a repository may itself contain `blobs` or `manifests`. */
const ROUTES: [RegExp, RouteKind][] = [
  [/^\/v2\/?$/, 'base'],
  [/^\/v2\/_catalog$/, 'catalog'],
  [/^\/v2\/(.+)\/tags\/list$/, 'tags'],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, 'manifest'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'uploads'],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, 'blob'],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, 'referrers'],
];

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RegistryError('NAME_INVALID', 'malformed percent-encoding in path', { part });
  }
}

/**
 * Route a raw request path. The route is chosen on the raw path. A repository name has nothing to percent-encode,
 * so an encoded one (`a%2Fb`, `%2e%2e`) is refused as it is; the last segment is decoded on its own (an encoded `/`
 * never acts as a separator) and validated by its handler.
 */
export function route(rawPath: string): Route | undefined {
  for (const [re, kind] of ROUTES) {
    const m = re.exec(rawPath);
    if (!m) continue;
    if (m[1]?.includes('%')) throw new RegistryError('NAME_INVALID', 'invalid repository name: percent-encoded', { name: m[1] });
    return { kind, name: m[1] === undefined ? '' : validateName(m[1]), arg: m[2] === undefined ? '' : decode(m[2]) };
  }
  return undefined;
}

export interface Ctx {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  query: URLSearchParams;
  route: Route;
  storage: RegistryStorage;
  uploads: Uploads;
}

/** Send a reply; HEAD gets the headers (including Content-Length) without the body. */
export function send(ctx: Ctx, status: number, headers: Record<string, string | number>, body?: string | Buffer): void {
  const { req, res } = ctx;
  const payload = body === undefined ? undefined : Buffer.from(body);
  res.writeHead(status, { ...headers, 'Content-Length': headers['Content-Length'] ?? payload?.length ?? 0 });
  res.end(req.method === 'HEAD' ? undefined : payload);
}

export function sendJson(ctx: Ctx, status: number, value: unknown, headers: Record<string, string | number> = {}): void {
  send(ctx, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(value));
}

/** Read a small request body, refusing more than `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      req.resume();
      throw new RegistryError('SIZE_INVALID', `body exceeds ${limit} bytes`, undefined, 413);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** True when a request carries a body (a non-zero Content-Length or chunked transfer). */
export function hasBody(req: http.IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * `n`/`last` pagination over a sorted list: entries after `last`, at most `n` of them, and a `Link` header to the
 * next page when more remain.
 */
export function paginate(items: string[], query: URLSearchParams, basePath: string): { page: string[]; link?: string } {
  const nText = query.get('n');
  const last = query.get('last');
  let n: number | undefined;
  if (nText !== null) {
    n = Number(nText);
    if (!/^\d+$/.test(nText) || !Number.isSafeInteger(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nText });
  }
  const rest = last === null ? items : items.filter((i) => i > last);
  if (n === undefined) return { page: rest };
  const page = rest.slice(0, n);
  if (n === 0 || rest.length <= n) return { page };
  const next = `${basePath}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}`;
  return { page, link: `<${next}>; rel="next"` };
}
