/**
 * `build --secret`, `--ssh` and `--output` values as buildx parses them (CSV key=value fields). Pure: the CLI reads
 * the files and sockets they name.
 */
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
