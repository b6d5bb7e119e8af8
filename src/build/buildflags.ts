/**
 * `build --secret`, `--ssh`, `--output`, `--cache-to` and `--cache-from` values as buildx parses them (CSV key=value fields). Pure: the CLI reads
 * the files and sockets they name.
 */
import * as path from 'node:path';
import { csvFields } from './mounts';

export type SecretSpec = { id: string } & ({ file: string } | { env: string });

function keyValues(value: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of csvFields(value)) {
    const i = field.indexOf('=');
    if (i < 0) throw new Error(`invalid ${flag} value ${JSON.stringify(value)}: field ${JSON.stringify(field)} must be a key=value pair`);
    out.set(field.slice(0, i).toLowerCase(), field.slice(i + 1));
  }
  return out;
}

/** `id=x,src=FILE` | `id=x,env=VAR` | `id=x` (the variable x, else the file x), `type=file|env` as buildx. */
export function parseSecretSpec(value: string, env: Readonly<Record<string, string | undefined>> = {}): SecretSpec {
  const kv = keyValues(value, '--secret');
  for (const k of kv.keys()) {
    if (!['id', 'type', 'src', 'source', 'env'].includes(k)) throw new Error(`unexpected key '${k}' in '${value}' (use id, type, src, env)`);
  }
  const type = kv.get('type');
  if (type !== undefined && type !== 'file' && type !== 'env') throw new Error(`unsupported secret type ${JSON.stringify(type)}`);
  const src = kv.get('src') ?? kv.get('source');
  const id = kv.get('id') ?? (src !== undefined && type !== 'env' ? src.split('/').pop() as string : kv.get('env'));
  if (!id) throw new Error(`invalid --secret value ${JSON.stringify(value)}: an id is required`);
  if (kv.has('env') || type === 'env') return { id, env: kv.get('env') ?? src ?? id };
  if (src !== undefined) return { id, file: src };
  return env[id] !== undefined ? { id, env: id } : { id, file: id };
}

/** `default`, `default=PATH[,PATH]`, `ID=PATH`: paths are agent sockets or key files; none means $SSH_AUTH_SOCK. */
export function parseSshSpec(value: string): { id: string; paths: string[] } {
  const i = value.indexOf('=');
  const id = i < 0 ? value : value.slice(0, i);
  if (!/^[A-Za-z0-9_.-]+$/.test(id)) throw new Error(`invalid --ssh value ${JSON.stringify(value)}: expected ID[=SOCKET|KEY[,KEY]]`);
  const paths = i < 0 ? [] : value.slice(i + 1).split(',').filter(Boolean);
  return { id, paths };
}

export type OutputSpec =
  | { type: 'image' }
  | { type: 'local'; dest: string }
  | { type: 'tar' | 'oci' | 'docker'; dest: string };

/** `-o PATH` (local), `-o -` (tar to stdout), `type=local|tar|oci|docker|image,dest=...`. */
export function parseOutputSpec(value: string): OutputSpec {
  if (!value.includes('=')) {
    if (value === '') throw new Error('invalid --output value: empty');
    return value === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: value };
  }
  const kv = keyValues(value, '--output');
  const type = kv.get('type') ?? 'local';
  if (type === 'image' || type === 'docker' && !kv.has('dest')) {
    for (const k of kv.keys()) if (!['type', 'name'].includes(k)) throw new Error(`unsupported --output option '${k}' for type=${type}`);
    return { type: 'image' };
  }
  if (!['local', 'tar', 'oci', 'docker'].includes(type)) {
    throw new Error(`unsupported --output type ${JSON.stringify(type)} (use local, tar, oci, docker or image)`);
  }
  for (const k of kv.keys()) if (!['type', 'dest'].includes(k)) throw new Error(`unsupported --output option '${k}' for type=${type}`);
  const dest = kv.get('dest');
  if (!dest) throw new Error(`--output type=${type} needs dest=`);
  if (type === 'local' && dest === '-') throw new Error('--output type=local needs a directory, not -');
  return { type: type as 'local' | 'tar' | 'oci' | 'docker', dest };
}

export interface CacheSpec {
  type: 'local' | 'registry' | 'inline';
  attrs: Record<string, string>;
}

/**
 * A `--cache-to`/`--cache-from` value as buildx reads it (type=local,dest=DIR | type=local,src=DIR | type=registry,ref=R
 * | type=inline); a value without `type=` is no spec (an image, the classic --cache-from). Local paths must be absolute
 * here (the daemon's; the CLI makes them so with absoluteCachePaths).
 */
export function parseCacheSpec(value: string, flag: 'cache-to' | 'cache-from'): CacheSpec | undefined {
  if (!/(^|,)type=/.test(value)) return undefined;
  const kv = keyValues(value, `--${flag}`);
  const type = kv.get('type') as string;
  kv.delete('type');
  const bad = (why: string): Error => new Error(`invalid --${flag} value ${JSON.stringify(value)}: ${why}`);
  const types = flag === 'cache-to' ? ['local', 'registry', 'inline'] : ['local', 'registry'];
  if (!types.includes(type)) throw bad(`unsupported cache type ${JSON.stringify(type)} (use ${types.join(', ')})`);
  const need = type === 'local' ? (flag === 'cache-to' ? 'dest' : 'src') : type === 'registry' ? 'ref' : undefined;
  if (need && !kv.get(need)) throw bad(`type=${type} needs ${need}=`);
  for (const k of ['dest', 'src']) if (kv.has(k) && !kv.get(k)?.startsWith('/')) throw bad(`${k} must be an absolute path`);
  return { type: type as CacheSpec['type'], attrs: Object.fromEntries(kv) };
}

/** The value with a local cache's relative src=/dest= made absolute against `cwd` (the daemon reads the path). */
export function absoluteCachePaths(value: string, cwd: string): string {
  if (!/(^|,)type=local(,|$)/.test(value)) return value;
  return csvFields(value).map((f) => f.replace(/^(src|dest)=(.+)$/, (_m, k: string, p: string) => `${k}=${path.resolve(cwd, p)}`)).join(',');
}

/**
 * The docker CLI's legacy builder splits `--cache-from` at commas (a string-slice flag): "type=local,src=D" arrives
 * as ["type=local", "src=D"]. Fields after a `type=` item are joined back onto it (an image name has no `=`).
 */
export function rejoinCacheSpecs(values: string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (out.length && v.includes('=') && !v.startsWith('type=') && /(^|,)type=/.test(out[out.length - 1])) out[out.length - 1] += `,${v}`;
    else out.push(v);
  }
  return out;
}
