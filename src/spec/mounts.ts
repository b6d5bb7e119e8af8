/**
 * Parse HostConfig.Binds / HostConfig.Mounts / HostConfig.Tmpfs into Berth mount requests with docker's validation
 * and messages (moby daemon/volume/mounts linux_parser.go), once at create (`userMounts`, kept in the container's
 * typed spec). Named and anonymous volumes are returned as such for the volume service to resolve; they are not an
 * error here.
 */
import * as path from 'node:path';
import type { MountSpec } from '../schema/container';

const PROPAGATIONS = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

export type MountRequest =
  | {
      kind: 'bind';
      source: string;
      target: string;
      readOnly: boolean;
      propagation: Propagation;
      /** -v creates a missing host directory (docker's legacy behaviour); --mount type=bind refuses it. */
      createSource: boolean;
    }
  | { kind: 'volume'; name: string; target: string; readOnly: boolean; noCopy: boolean }
  | { kind: 'tmpfs'; target: string; options: string[] };

/** Go's path.Clean: normalized, without a trailing slash (except for `/`). */
export const cleanPath = (p: string): string => {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
};

const invalidSpec = (raw: string): string => `invalid volume specification: '${raw}'`;

function validMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = { rw: 0, label: 0, propagation: 0, copy: 0, consistency: 0 };
  for (const o of mode.split(',')) {
    if (o === 'rw' || o === 'ro') counts.rw++;
    else if (o === 'z' || o === 'Z') counts.label++;
    else if ((PROPAGATIONS as readonly string[]).includes(o)) counts.propagation++;
    else if (o === 'nocopy') counts.copy++;
    else if (o === 'consistent' || o === 'cached' || o === 'delegated') counts.consistency++;
    else return false;
  }
  return Object.values(counts).every((n) => n <= 1);
}

/** Target checks shared by -v and --mount; returns the message without docker's prefix. */
function targetProblem(target: string): string | undefined {
  if (target === '') return 'field Target must not be empty';
  if (cleanPath(target) === '/') return "invalid specification: destination can't be '/'";
  if (!path.posix.isAbsolute(target)) return `invalid mount path: '${target}' mount path must be absolute`;
  return undefined;
}

/** Parse one `-v` / Binds entry: `/host:/ctr[:opts]`, `name:/ctr[:opts]` or `/ctr` (anonymous volume). */
export function parseBind(raw: string): MountRequest {
  return parseBindMode(raw).mount;
}

/** parseBind with the entry's mode string (what inspect shows as a bind's or `-v` volume's Mode). */
export function parseBindMode(raw: string): { mount: MountRequest; mode: string } {
  const parts = raw.split(':');
  if (parts[0] === '' || parts.length > 3) throw new Error(invalidSpec(raw));
  let source = '';
  let target: string;
  let mode = '';
  if (parts.length === 1) target = parts[0];
  else if (parts.length === 2) {
    // `/foo:rw` is a destination with a mode: volumes cannot carry a mode without a source.
    if (validMode(parts[1])) throw new Error(invalidSpec(raw));
    [source, target] = parts;
  } else [source, target, mode] = parts;
  if (!validMode(mode)) throw new Error(`invalid mode: ${mode}`);
  const problem = targetProblem(target);
  const kind = path.posix.isAbsolute(source) ? 'bind' : 'volume';
  if (problem) throw new Error(`${invalidSpec(raw)}: invalid mount config for type "${kind}": ${problem}`);

  const opts = mode.split(',');
  const readOnly = opts.includes('ro');
  const cleanTarget = cleanPath(target);
  if (kind === 'volume') return { mount: { kind, name: source, target: cleanTarget, readOnly, noCopy: opts.includes('nocopy') }, mode };
  const propagation = (opts.find((o) => (PROPAGATIONS as readonly string[]).includes(o)) ?? 'rprivate') as Propagation;
  return { mount: { kind, source: cleanPath(source), target: cleanTarget, readOnly, propagation, createSource: true }, mode };
}

/** Parse one HostConfig.Mounts entry. `exists` checks a bind source on the host (injected to keep this pure). */
export function parseMount(m: MountSpec, exists: (p: string) => boolean): MountRequest {
  const fail = (msg: string): never => {
    throw new Error(`invalid mount config for type "${m.Type}": ${msg}`);
  };
  if (m.Type !== 'bind' && m.BindOptions) fail('field BindOptions must not be specified');
  if (m.Type !== 'tmpfs' && m.TmpfsOptions) fail('field TmpfsOptions must not be specified');
  const problem = targetProblem(m.Target ?? '');
  if (problem) fail(problem);
  const target = cleanPath(m.Target);
  const readOnly = m.ReadOnly === true;
  switch (m.Type) {
    case 'bind': {
      const source = m.Source ?? '';
      if (source === '') fail('field Source must not be empty');
      const propagation = m.BindOptions?.Propagation || 'rprivate';
      if (!(PROPAGATIONS as readonly string[]).includes(propagation)) fail(`invalid propagation mode: ${propagation}`);
      if (!path.posix.isAbsolute(source)) fail(`invalid mount path: '${source}' mount path must be absolute`);
      if (!exists(source)) fail(`bind source path does not exist: ${source}`);
      return { kind: 'bind', source: cleanPath(source), target, readOnly, propagation: propagation as Propagation, createSource: false };
    }
    case 'volume':
      return { kind: 'volume', name: m.Source ?? '', target, readOnly, noCopy: m.VolumeOptions?.NoCopy === true };
    case 'tmpfs': {
      if (m.Source) fail('field Source must not be specified');
      const opts: string[] = [];
      if (readOnly) opts.push('ro');
      if (m.TmpfsOptions?.Mode) opts.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      if (m.TmpfsOptions?.SizeBytes) opts.push(`size=${m.TmpfsOptions.SizeBytes}`);
      return { kind: 'tmpfs', target, options: tmpfsOptions(opts) };
    }
    default:
      return fail('mount type unknown');
  }
}

/**
 * Docker's tmpfs options: noexec,nosuid,nodev,rprivate then the user's, where a later flag overrides its opposite
 * (exec vs noexec) and a later `key=value` replaces an earlier one.
 */
export function tmpfsOptions(user: string[]): string[] {
  const opposite: Record<string, string> = { exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev', rw: 'ro', ro: 'rw' };
  const out: string[] = [];
  for (const o of ['noexec', 'nosuid', 'nodev', 'rprivate', ...user.filter((u) => u !== '')]) {
    const key = o.includes('=') ? o.slice(0, o.indexOf('=') + 1) : undefined;
    const drop = (e: string): boolean => (key ? e.startsWith(key) : e === o || e === opposite[o]);
    const i = out.findIndex(drop);
    if (i >= 0) out.splice(i, 1);
    out.push(o);
  }
  return out;
}

type BindRequest = Extract<MountRequest, { kind: 'bind' }>;
type VolumeRequest = Extract<MountRequest, { kind: 'volume' }>;
type TmpfsRequest = Extract<MountRequest, { kind: 'tmpfs' }>;

/** A user mount with what inspect shows of it besides: docker's MountPoint.Mode, and whether a tmpfs is listed. */
export type UserMount =
  | (BindRequest & { mode: string })
  /** mode: the `-v` mode string ("z" for a named `-v` volume without one). */
  | (VolumeRequest & { mode: string })
  /** `listed`: docker lists `--mount type=tmpfs` in inspect's Mounts, but not HostConfig.Tmpfs (`--tmpfs`). */
  | (TmpfsRequest & { listed: boolean });

/**
 * All user mounts of a create body, in docker's order of precedence (Binds, Mounts, Tmpfs), refusing two mounts on
 * one target (`Duplicate mount point: /x`). Tmpfs entries come from HostConfig.Tmpfs (`{"/run": "size=64m"}`).
 */
export function userMounts(
  hc: { Binds?: string[] | null; Mounts?: MountSpec[] | null; Tmpfs?: Record<string, string> | null },
  exists: (p: string) => boolean,
): UserMount[] {
  const out: UserMount[] = [];
  const seen = new Set<string>();
  const add = (m: UserMount): void => {
    if (seen.has(m.target)) throw new Error(`Duplicate mount point: ${m.target}`);
    seen.add(m.target);
    out.push(m);
  };
  for (const raw of hc.Binds ?? []) {
    const { mount: m, mode } = parseBindMode(raw);
    if (m.kind === 'bind') add({ ...m, mode });
    else if (m.kind === 'volume') add({ ...m, mode: m.name ? mode || 'z' : mode });
  }
  for (const spec of hc.Mounts ?? []) {
    const m = parseMount(spec, exists);
    add(m.kind === 'tmpfs' ? { ...m, listed: true } : { ...m, mode: '' });
  }
  for (const [target, data] of Object.entries(hc.Tmpfs ?? {})) {
    const problem = targetProblem(target);
    if (problem) throw new Error(`invalid tmpfs mount: ${problem}`);
    add({ kind: 'tmpfs', target: cleanPath(target), options: tmpfsOptions(data.split(',')), listed: false });
  }
  return out;
}

/** userMounts as plain mount requests. */
export function parseMounts(
  hc: { Binds?: string[] | null; Mounts?: MountSpec[] | null; Tmpfs?: Record<string, string> | null },
  exists: (p: string) => boolean,
): MountRequest[] {
  return userMounts(hc, exists).map((m): MountRequest => {
    if (m.kind === 'tmpfs') return { kind: m.kind, target: m.target, options: m.options };
    const { mode: _mode, ...plain } = m;
    return plain;
  });
}
