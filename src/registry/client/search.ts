/**
 * GET /images/search: a registry's v1 search API (`/v1/search?q=&n=`), as dockerd asks it. Docker Hub serves it;
 * most private registries (distribution, Berth's own) do not, and then the answer is the registry's status, as docker's.
 */
import { ApiError, badRequest } from '../../common/errors';
import { checkFilterKeys, type Filters } from '../../common/filters';
import type { AuthConfig } from './auth';
import { DOCKER_IO, type RegistryHosts } from './hosts';
import { readAll, RegistrySession } from './session';

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

export interface SearchFilters {
  isOfficial?: boolean;
  isAutomated?: boolean;
  stars?: number;
}

/** docker's splitReposSearchTerm: `host/name` searches that host when the first part looks like one, else Docker Hub. */
export function splitSearchTerm(term: string): { index: string; remote: string } {
  const slash = term.indexOf('/');
  const first = slash < 0 ? '' : term.slice(0, slash);
  if (slash < 0 || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) return { index: DOCKER_IO, remote: term };
  return { index: first, remote: term.slice(slash + 1) };
}

/** The `filters` of the search endpoint, checked with docker's wording. */
export function searchFilters(f: Filters): SearchFilters {
  const out: SearchFilters = {};
  checkFilterKeys(f, ['is-official', 'is-automated', 'stars']);
  const bool = (key: string): boolean | undefined => {
    const v = f[key]?.[0];
    if (v === undefined) return undefined;
    if (!['true', 'false', '1', '0'].includes(v.toLowerCase())) throw badRequest(`invalid filter '${key}=${v}'`);
    return v === 'true' || v === '1';
  };
  out.isOfficial = bool('is-official');
  out.isAutomated = bool('is-automated');
  for (const v of f.stars ?? []) {
    if (!/^\d+$/.test(v)) throw badRequest(`invalid filter 'stars=${v}'`);
    out.stars = Math.max(out.stars ?? 0, Number(v));
  }
  return out;
}

export async function searchRegistry(hosts: RegistryHosts, term: string, limit: number, filters: SearchFilters, auth: AuthConfig): Promise<SearchResult[]> {
  if (!term) throw badRequest('term is required');
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw badRequest(`limit ${limit} is outside the range of [1, 100]`);
  const { index, remote } = splitSearchTerm(term);
  const ep = hosts.endpoints(index).find((e) => !e.mirror);
  if (!ep) throw badRequest(`no endpoint for registry ${index}`);
  const session = new RegistrySession(ep, auth, {});
  try {
    const res = await session.request('GET', `/v1/search?q=${encodeURIComponent(remote)}&n=${limit}`, { accept: [401, 403, 404, 405] });
    const body = await readAll(res);
    if (res.statusCode !== 200) throw new ApiError(500, `Unexpected status code ${res.statusCode}`);
    let results: SearchResult[];
    try {
      results = (JSON.parse(body.toString('utf8')) as { results?: SearchResult[] }).results ?? [];
    } catch {
      throw new ApiError(500, `${index} answered the search with something that is not JSON`);
    }
    return results
      .filter((r) => filters.isOfficial === undefined || !!r.is_official === filters.isOfficial)
      .filter((r) => filters.isAutomated === undefined || !!r.is_automated === filters.isAutomated)
      .filter((r) => filters.stars === undefined || (r.star_count ?? 0) >= filters.stars)
      .slice(0, limit);
  } finally {
    session.close();
  }
}
