/**
 * Which mounts a container gets, in docker's precedence (moby daemon/volumes.go registerMountPoints): its own Binds,
 * Mounts and Tmpfs first, then those of `--volumes-from` containers, then the image's / create body's `Volumes`
 * (anonymous volumes) on targets nothing else covers. Pure: container and anonymous-volume lookups are injected.
 */
import type { UserMount } from '../spec/mounts';
import type { ContainerRecord } from './containers/record';

type BindMount = Extract<UserMount, { kind: 'bind' }>;
type TmpfsMount = Extract<UserMount, { kind: 'tmpfs' }>;

export interface VolumeMount {
  kind: 'volume';
  /** The volume's name; '' for an anonymous volume not made yet. */
  name: string;
  /** For an anonymous volume: the container it was made for (a --volumes-from source owns its own). */
  owner?: string;
  target: string;
  readOnly: boolean;
  noCopy: boolean;
  /** docker's MountPoint.Mode: the `-v` mode string ("z" for a named `-v` volume without one). */
  mode: string;
}

export type PlannedMount = BindMount | VolumeMount | TmpfsMount;

export interface PlanLookups {
  container(ref: string): ContainerRecord | undefined;
  /** Name of the anonymous volume made for (container, target), when it exists. */
  anonymous(owner: string, target: string): string | undefined;
}

/** Parse HostConfig.VolumesFrom entries: `name[:ro|rw]` (docker refuses propagation and copy modes here). */
export function parseVolumesFrom(spec: string): { ref: string; readOnly: boolean } {
  if (spec === '') throw new Error('volumes-from specification cannot be an empty string');
  const i = spec.indexOf(':');
  const ref = i < 0 ? spec : spec.slice(0, i);
  const mode = i < 0 ? '' : spec.slice(i + 1);
  const opts = mode.split(',').filter(Boolean);
  if (opts.some((o) => !['ro', 'rw', 'z', 'Z'].includes(o)) || opts.filter((o) => o === 'ro' || o === 'rw').length > 1) {
    throw new Error(`invalid mode: ${mode}`);
  }
  return { ref, readOnly: opts.includes('ro') };
}

/** The container's mounts; throws (docker's wording) when a --volumes-from container does not exist. */
export function planMounts(rec: Pick<ContainerRecord, 'Id' | 'Spec'>, look: PlanLookups, visiting = new Set<string>()): PlannedMount[] {
  const spec = rec.Spec;
  // an anonymous volume gets its name at first use
  const own = spec.mounts.map((m): PlannedMount => (m.kind === 'volume' && !m.name ? { ...m, name: look.anonymous(rec.Id, m.target) ?? '', owner: rec.Id } : m));
  const out = [...own];
  const taken = new Set(out.map((m) => m.target));
  const add = (m: PlannedMount): void => {
    if (taken.has(m.target)) return;
    taken.add(m.target);
    out.push(m);
  };
  visiting.add(rec.Id);
  for (const { ref, readOnly } of spec.volumesFrom) {
    const src = look.container(ref);
    if (!src) throw new Error(`No such container: ${ref}`);
    if (visiting.has(src.Id)) continue;
    for (const m of planMounts(src, look, visiting)) {
      if (m.kind === 'tmpfs') continue;
      if (m.kind === 'bind') add({ ...m, readOnly: m.readOnly || readOnly, createSource: false });
      else add({ ...m, readOnly: m.readOnly || readOnly, noCopy: true });
    }
  }
  for (const target of spec.volumes) {
    add({ kind: 'volume', name: look.anonymous(rec.Id, target) ?? '', owner: rec.Id, target, readOnly: false, noCopy: false, mode: '' });
  }
  return out;
}

/** docker's types.MountPoint, as in inspect's and list's `Mounts`. */
export interface DockerMountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export function mountPoints(planned: PlannedMount[], mountpoint: (name: string) => string): DockerMountPoint[] {
  const out: DockerMountPoint[] = [];
  for (const m of planned) {
    const RW = m.kind === 'tmpfs' ? !m.options.includes('ro') : !m.readOnly;
    if (m.kind === 'bind') out.push({ Type: 'bind', Source: m.source, Destination: m.target, Mode: m.mode, RW, Propagation: m.propagation });
    else if (m.kind === 'volume') {
      const Source = m.name ? mountpoint(m.name) : '';
      out.push({ Type: 'volume', Name: m.name, Source, Destination: m.target, Driver: 'local', Mode: m.mode, RW, Propagation: '' });
    } else if (m.listed) out.push({ Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW, Propagation: '' });
  }
  return out;
}
