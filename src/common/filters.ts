/** Docker's list/prune `filters` (filters.Args), decoded at the API edge: key → values. */
import { badRequest } from './errors';

/** Values of one key are OR-ed or AND-ed as the endpoint says; the `{"k":{"v":true}}` form is gone after decoding. */
export type Filters = Record<string, string[]>;

/** Reject keys the endpoint does not know, with docker's wording. */
export function checkFilterKeys(filters: Filters, allowed: Iterable<string>): void {
  const known = new Set(allowed);
  for (const k of Object.keys(filters)) if (!known.has(k)) throw badRequest(`invalid filter '${k}'`);
}

/** One `label` filter value: `key` (the label is present) or `key=value`. */
export function labelMatches(labels: Record<string, string> | null | undefined, want: string): boolean {
  const i = want.indexOf('=');
  const l = labels ?? {};
  return i < 0 ? Object.hasOwn(l, want) : l[want.slice(0, i)] === want.slice(i + 1);
}
