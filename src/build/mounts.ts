/**
 * `RUN --mount=...` values as BuildKit's Dockerfile frontend parses them (commands_runmount.go): CSV fields, keys
 * and wording as there, defaults filled in (bind/secret/ssh read-only, cache sharing "shared", secret target
 * /run/secrets/<id>, ssh id "default"). Pure: the executor turns a RunMount into a container mount.
 */
import * as path from 'node:path';
import { ramInBytes } from '../common/units';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  /** Absolute path in the container ('' for a secret given only as env=). */
  target: string;
  readOnly: boolean;
  /** bind/cache: a stage name or image the source is read from. */
  from?: string;
  /** bind/cache: path in the context or in `from`; secret/ssh: not allowed. */
  source?: string;
  /** cache: the cache's id (default: target); secret/ssh: the secret's or agent's id. */
  id?: string;
  sharing?: CacheSharing;
  mode?: number;
  uid?: number;
  gid?: number;
  required: boolean;
  /** secret: also (or only) expose the value in this environment variable. */
  env?: string;
  /** tmpfs: size in bytes. */
  size?: number;
}

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const KEYS = ['type', 'from', 'source', 'src', 'target', 'dst', 'destination', 'readonly', 'ro', 'readwrite', 'rw',
  'required', 'sharing', 'mode', 'uid', 'gid', 'env', 'id', 'size'];

/** Go's encoding/csv fields of one line (quotes allowed around a field, "" inside quotes). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
        if (line[i] === '"' && line[i + 1] === '"') { field += '"'; i += 2; continue; }
        if (line[i] === '"') { i++; break; }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      const end = line.indexOf(',', i);
      field = line.slice(i, end < 0 ? line.length : end);
      if (field.includes('"')) throw new Error(`parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      i = end < 0 ? line.length : end;
    }
    out.push(field);
    i++;
  }
  return out;
}

function parseBool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new Error(`invalid value for ${key}: ${value}`);
}

function parseUint(key: string, value: string, radix: 8 | 10): number {
  const ok = radix === 8 ? /^[0-7]+$/.test(value) : /^\d+$/.test(value);
  const n = ok ? parseInt(value, radix) : NaN;
  if (!(n <= 0xffffffff)) throw new Error(`invalid value ${value} for ${key}`);
  return n;
}

/**
 * One `--mount` value → a RunMount; `sshIndex` numbers ssh mounts without a target (/run/buildkit/ssh_agent.N).
 * Errors carry BuildKit's wording; the caller adds the Dockerfile line.
 */
export function parseRunMount(value: string, sshIndex = 0): RunMount {
  const fields = csvFields(value);
  const m: Partial<RunMount> & { type: MountType } = { type: 'bind', required: false };
  let roAuto = true;
  let readOnly = false;
  let sharing: string | undefined;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const v = eq < 0 ? '' : field.slice(eq + 1);
    const fileInfo = m.type === 'cache' || m.type === 'secret' || m.type === 'ssh';
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') { readOnly = true; roAuto = false; continue; }
      if (key === 'readwrite' || key === 'rw') { readOnly = false; roAuto = false; continue; }
      if (key === 'required' && (m.type === 'secret' || m.type === 'ssh')) { m.required = true; continue; }
      if (key === 'required') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type': {
        const t = v.toLowerCase() as MountType;
        if (!TYPES.includes(t)) throw new Error(`unsupported mount type ${JSON.stringify(v)} (use one of ${TYPES.join(', ')})`);
        m.type = t;
        break;
      }
      case 'from': m.from = v; break;
      case 'source': case 'src': m.source = v; break;
      case 'target': case 'dst': case 'destination': m.target = v; break;
      case 'readonly': case 'ro': readOnly = parseBool(key, v); roAuto = false; break;
      case 'readwrite': case 'rw': readOnly = !parseBool(key, v); roAuto = false; break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, v);
        break;
      case 'sharing':
        if (v !== '' && m.type !== 'cache') throw new Error(`invalid cache sharing set for ${m.type} mount`);
        sharing = v;
        break;
      case 'mode': case 'uid': case 'gid':
        if (!fileInfo) throw new Error(`${key} not allowed for ${JSON.stringify(m.type)} type mounts`);
        m[key] = parseUint(key, v, key === 'mode' ? 8 : 10);
        break;
      case 'env':
        if (m.type !== 'secret') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        m.env = v;
        break;
      case 'id': m.id = v; break;
      case 'size':
        if (m.type !== 'tmpfs') throw new Error(`unexpected key '${key}' for mount type '${m.type}'`);
        try {
          m.size = ramInBytes(v);
        } catch {
          throw new Error(`invalid value for size: ${v}`);
        }
        break;
      default:
        throw new Error(`unexpected key '${key}' in '${field}' (known keys: ${KEYS.join(', ')})`);
    }
  }
  const fileInfo = m.type === 'cache' || m.type === 'secret' || m.type === 'ssh';
  if (!fileInfo && (m.mode !== undefined || m.uid !== undefined || m.gid !== undefined)) {
    throw new Error(`${m.mode !== undefined ? 'mode' : m.uid !== undefined ? 'uid' : 'gid'} not allowed for ${JSON.stringify(m.type)} type mounts`);
  }
  if (sharing !== undefined && sharing !== '' && m.type !== 'cache') throw new Error(`invalid cache sharing set for ${m.type} mount`);
  m.readOnly = roAuto ? !(m.type === 'cache' || m.type === 'tmpfs') : readOnly;
  if (m.type === 'secret' || m.type === 'ssh') {
    if (m.from !== undefined) throw new Error(`${m.type} mount should not have a from`);
    if (m.source !== undefined) throw new Error(`${m.type} source not allowed`);
  }
  if (m.type === 'cache') {
    if (!['', 'shared', 'private', 'locked'].includes(sharing ?? '')) throw new Error(`unsupported sharing value ${JSON.stringify(sharing)}`);
    m.sharing = (sharing || 'shared') as CacheSharing;
  }
  if (m.type === 'secret') {
    if (!m.id && !m.target) throw new Error('one of source, target required');
    m.id ||= path.posix.basename(m.target as string);
    // With only env= the secret is no file (target '').
    m.target ||= m.env === undefined ? `/run/secrets/${m.id}` : '';
  } else if (m.type === 'ssh') {
    m.id ||= 'default';
    m.target ||= `/run/buildkit/ssh_agent.${sshIndex}`;
    m.mode ??= 0o600;
  } else if (!m.target) {
    throw new Error(`mount type ${JSON.stringify(m.type)} requires a target`);
  }
  if (m.target) {
    if (!m.target.startsWith('/')) m.target = path.posix.join('/', m.target);
    m.target = path.posix.normalize(m.target).replace(/(.)\/+$/, '$1');
    if (m.target === '/') throw new Error('invalid mount target "/": a mount cannot replace the root filesystem');
  }
  return m as RunMount;
}

/** All `--mount` values of a RUN, ssh mounts numbered in order. */
export function parseRunMounts(values: readonly string[]): RunMount[] {
  let ssh = 0;
  return values.map((v) => {
    const m = parseRunMount(v, ssh);
    if (m.type === 'ssh') ssh++;
    return m;
  });
}
