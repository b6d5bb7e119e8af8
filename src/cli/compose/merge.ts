/**
 * How compose merges a service defined in several files (or by `extends`): mappings merge key by key, `command`,
 * `entrypoint` and `healthcheck.test` are replaced, `volumes` merge by target, other sequences are appended without
 * duplicates. Pure.
 */
type Obj = Record<string, unknown>;

const REPLACED = new Set(['command', 'entrypoint', 'test']);
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** environment / labels / build.args / sysctls in list form (`K=V`, or `K` alone) as a mapping. */
export function toMap(v: unknown): Obj | unknown {
  if (!Array.isArray(v)) return v;
  return Object.fromEntries(v.map((e) => {
    const s = String(e);
    const i = s.indexOf('=');
    return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
  }));
}
const MAP_KEYS = new Set(['environment', 'labels', 'args', 'sysctls']);

export function mergeValues(base: unknown, over: unknown, key = ''): unknown {
  if (over === undefined) return base;
  if (REPLACED.has(key)) return over;
  if (MAP_KEYS.has(key)) { base = toMap(base); over = toMap(over); }
  if (isObj(base) && isObj(over)) {
    const out: Obj = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v, k);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    if (key === 'volumes') {
      const target = (v: unknown): unknown => (isObj(v) ? v.target : String(v).split(':')[1] ?? v);
      return [...base.filter((b) => !over.some((o) => target(o) === target(b))), ...over];
    }
    const seen = new Set(base.map((b) => JSON.stringify(b)));
    return [...base, ...over.filter((o) => !seen.has(JSON.stringify(o)))];
  }
  return over;
}

/** Merges whole compose files: top-level sections key by key, services with mergeValues. */
export function mergeFiles(files: Obj[]): Obj {
  return files.reduce<Obj>((acc, f) => mergeValues(acc, f) as Obj, {});
}
