/**
 * Volumes with docker's `local` driver: <root>/<name>/_data holds the data, <root>/<name>/volume.json the record
 * (atomic JSON). Driver options (type/device/o) make the volume a mount (tmpfs, bind, ...) that is mounted when a
 * container first needs it and unmounted when no container refers to it any more. A volume's users are derived from
 * the container records (their Binds/Mounts/Volumes/VolumesFrom), so there is no reference count to drift.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFilterKeys, labelMatches, type Filters } from '../common/filters';
import { treeSize } from '../common/tree-size';
import { readJson, removeStaleTemps, writeJsonAtomic } from '../common/atomic';
import { ApiError, badRequest, conflict, notFound } from '../common/errors';
import { log } from '../common/log';
import { resolveInRoot } from '../common/rootpath';
import { isMountPoint } from '../store/overlay';
import { Trash } from '../store/trash';
import type { ContainerRecord, ContainerStore } from './containers/record';
import type { ContainerSpec } from './containers/normalize';
import { mountPoints, planMounts, type DockerMountPoint, type PlannedMount, type VolumeMount } from './volume-mounts';

/** docker's label on anonymous volumes (23+): `volume prune` without `all=true` removes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const DRIVER_OPTS = ['type', 'device', 'o', 'size'];

/** docker's volume.Volume as the API returns it. */
export interface DockerVolume {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
}

interface VolumeRecord {
  Name: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Options: Record<string, string> | null;
  /** Anonymous volumes: the container and path they were made for, so a restart mounts the same volume. */
  Anonymous?: { container: string; target: string };
}

export interface CreateVolumeBody {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const nonEmpty = <T extends object>(o: T | null | undefined): T | null => (o && Object.keys(o).length ? o : null);

/** docker's name rule for local volumes (a relative `-v` source that is no valid name was meant as a path). */
export function validateVolumeName(name: string): void {
  if (!VALID_NAME.test(name)) {
    throw badRequest(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

/** The local driver's option rules (moby volume/local validateOpts): known keys; type, device and o go together. */
export function validateDriverOpts(opts: Record<string, string>): void {
  for (const k of Object.keys(opts)) if (!DRIVER_OPTS.includes(k)) throw badRequest(`invalid option: "${k}"`);
  if ('size' in opts) throw badRequest('quota size requested but no quota support');
  const needs: Record<string, string[]> = { device: ['type'], type: ['device'], o: ['device', 'type'] };
  for (const [k, reqs] of Object.entries(needs)) {
    if (!(k in opts)) continue;
    for (const r of reqs) if (!(r in opts)) throw badRequest(`missing required option: "${r}"`);
  }
}

function boolFilter(filters: Filters, key: string): boolean | undefined {
  const vals = filters[key];
  if (!vals?.length) return undefined;
  const v = vals[vals.length - 1].toLowerCase();
  if (['true', '1'].includes(v)) return true;
  if (['false', '0'].includes(v)) return false;
  throw badRequest(`invalid filter '${key}=${vals[vals.length - 1]}'`);
}

export class VolumeService {
  private readonly byName = new Map<string, VolumeRecord>();
  /** Beside the root, as the daemon's `<data-root>/trash` is: same filesystem, so removal is one rename. */
  private readonly trash: Trash;

  constructor(
    private readonly root: string,
    private readonly containers: ContainerStore,
    private readonly emit: (action: 'create' | 'destroy' | 'mount' | 'unmount', name: string, attrs?: Record<string, string>) => void = () => undefined,
    /** `--userns-remap`: new volumes belong to the remapped root (docker's). */
    private readonly owner?: { uid: number; gid: number },
  ) {
    fs.mkdirSync(root, { recursive: true, mode: 0o701 });
    this.trash = new Trash(path.join(path.dirname(root), 'trash'));
    this.load();
  }

  /** Read every record; a directory without one is what a crash during create or remove left, and goes. */
  private load(): void {
    for (const e of fs.readdirSync(this.root, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const name = e.name;
      const dir = this.dir(name);
      removeStaleTemps(dir);
      const rec = readJson<VolumeRecord>(path.join(dir, 'volume.json'));
      if (rec) this.byName.set(rec.Name, rec);
      else if (!isMountPoint(this.mountpoint(name))) fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  private dir(name: string): string {
    return path.join(this.root, name);
  }

  mountpoint(name: string): string {
    return path.join(this.dir(name), '_data');
  }

  private find(name: string): VolumeRecord | undefined {
    return this.byName.get(name);
  }

  private records(): VolumeRecord[] {
    return [...this.byName.values()];
  }

  private view(v: VolumeRecord): DockerVolume {
    return { CreatedAt: v.CreatedAt, Driver: 'local', Labels: v.Labels, Mountpoint: this.mountpoint(v.Name), Name: v.Name, Options: v.Options, Scope: 'local' };
  }

  /** POST /volumes/create: an existing name is returned as it is (docker's idempotent create). */
  create(body: CreateVolumeBody): DockerVolume {
    return this.view(this.make(body));
  }

  private make(body: CreateVolumeBody, anonymous?: VolumeRecord['Anonymous']): VolumeRecord {
    const driver = body.Driver || 'local';
    if (driver !== 'local') throw notFound(`create ${body.Name ?? ''}: error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = body.Name || randomBytes(32).toString('hex');
    validateVolumeName(name);
    const existing = this.find(name);
    if (existing) return existing;
    const opts = nonEmpty(body.DriverOpts);
    if (opts) validateDriverOpts(opts);
    const labels = anonymous ? { ...body.Labels, [ANONYMOUS_LABEL]: '' } : nonEmpty(body.Labels);
    const rec: VolumeRecord = { Name: name, CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Labels: labels, Options: opts, Anonymous: anonymous };
    fs.mkdirSync(this.mountpoint(name), { recursive: true, mode: 0o755 });
    if (this.owner) fs.chownSync(this.mountpoint(name), this.owner.uid, this.owner.gid);
    writeJsonAtomic(path.join(this.dir(name), 'volume.json'), rec);
    this.byName.set(name, rec);
    this.emit('create', name, { driver: 'local' });
    return rec;
  }

  inspect(name: string): DockerVolume {
    const v = this.find(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return this.view(v);
  }

  /** IDs of the containers that refer to a volume (docker's "in use"), whatever their state. */
  users(name: string): string[] {
    const look = this.lookups();
    return this.containers.all().filter((c) => this.plan(c, look).some((m) => m.kind === 'volume' && m.name === name)).map((c) => c.Id);
  }

  list(filters: Filters): { Volumes: DockerVolume[]; Warnings: null } {
    checkFilterKeys(filters, ['name', 'label', 'dangling', 'driver']);
    const dangling = boolFilter(filters, 'dangling');
    const used = dangling === undefined ? undefined : this.usedNames();
    const vols = this.records().filter((v) =>
      (!filters.name?.length || filters.name.some((n) => new RegExp(n).test(v.Name))) &&
      (!filters.driver?.length || filters.driver.includes('local')) &&
      (filters.label ?? []).every((l) => labelMatches(v.Labels, l)) &&
      (used === undefined || used.has(v.Name) !== dangling));
    return { Volumes: vols.map((v) => this.view(v)), Warnings: null };
  }

  /** DELETE /volumes/{name}: 409 when a container refers to it; `force` only forgives a missing volume (as docker). */
  remove(name: string, force = false): void {
    const v = this.find(name);
    if (!v) {
      if (force) return;
      throw notFound(`get ${name}: no such volume`);
    }
    const users = this.users(name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.destroy(v);
  }

  private destroy(v: VolumeRecord): void {
    this.unmount(v);
    // Never recurse into a mount (a bind-driver volume holds host data): unmount() failing stops us above.
    if (isMountPoint(this.mountpoint(v.Name))) throw new ApiError(500, `remove ${v.Name}: ${this.mountpoint(v.Name)} is still mounted`);
    // One rename takes record and data out of sight; a crash after it leaves only trash, emptied at the next start.
    this.trash.discard(this.dir(v.Name), 'volume', v.Name);
    this.byName.delete(v.Name);
    this.emit('destroy', v.Name, { driver: 'local' });
  }

  /** POST /volumes/prune: unused anonymous volumes, or all unused ones with `all=true` (docker 23+). */
  prune(filters: Filters): { VolumesDeleted: string[] | null; SpaceReclaimed: number } {
    checkFilterKeys(filters, ['label', 'label!', 'all']);
    const all = boolFilter(filters, 'all') ?? false;
    const used = this.usedNames();
    const gone: string[] = [];
    let space = 0;
    for (const v of this.records()) {
      if (used.has(v.Name) || (!all && !v.Anonymous && !labelMatches(v.Labels, ANONYMOUS_LABEL))) continue;
      if (!(filters.label ?? []).every((l) => labelMatches(v.Labels, l))) continue;
      if ((filters['label!'] ?? []).some((l) => labelMatches(v.Labels, l))) continue;
      space += treeSize(this.mountpoint(v.Name));
      this.destroy(v);
      gone.push(v.Name);
    }
    return { VolumesDeleted: gone.length ? gone : null, SpaceReclaimed: space };
  }

  // ---- what the container code calls ----

  /** At container create: `--volumes-from` containers exist and named volumes are valid; those are made now (as docker). */
  prepareCreate(spec: ContainerSpec): void {
    for (const m of this.plan({ Id: '', Spec: spec }, this.lookups())) if (m.kind === 'volume' && m.owner === undefined) this.make({ Name: m.name });
  }

  /** The container's mounts, in docker's precedence (own, --volumes-from, image VOLUMEs). */
  mountsOf(rec: ContainerRecord): PlannedMount[] {
    return this.plan(rec, this.lookups());
  }

  /** inspect's `Mounts`. */
  mountPointsOf(rec: ContainerRecord): DockerMountPoint[] {
    let planned: PlannedMount[];
    try {
      planned = this.plan(rec, this.lookups());
    } catch {
      return []; // a --volumes-from container was removed: nothing trustworthy to show
    }
    return mountPoints(planned, (n) => this.mountpoint(n));
  }

  /**
   * At container start: make the volume if needed (anonymous ones get a random name), mount it when its driver
   * options say so, copy the image's content at the target in when the volume is empty (docker's copy-up, unless
   * `nocopy`), and return the host directory to bind into the container.
   */
  attach(rec: ContainerRecord, m: VolumeMount): string {
    const owner = m.owner ?? rec.Id;
    const vol = (m.name ? this.find(m.name) : this.anonymousOf(owner, m.target))
      ?? this.make({ Name: m.name }, m.name ? undefined : { container: owner, target: m.target });
    const data = this.mountpoint(vol.Name);
    const rootfs = this.containers.paths(rec.Id).rootfs;
    try {
      if (vol.Options && !isMountPoint(data)) {
        const o = vol.Options;
        run('mount', ['-t', o.type, ...(o.o ? ['-o', o.o] : []), o.device, data]);
        this.emit('mount', vol.Name, { driver: 'local', container: rec.Id, destination: m.target });
      }
      if (!m.noCopy) copyUp(rootfs, m.target, data);
    } catch (e) {
      throw new ApiError(500, `error while mounting volume '${data}': ${(e as Error).message}`);
    }
    return data;
  }

  /**
   * A container is gone: with `removeAnonymous` (rm -v, --rm) its anonymous volumes go too unless another container
   * still uses them; mounted volumes nobody refers to any more are unmounted.
   */
  containerRemoved(rec: ContainerRecord, removeAnonymous: boolean): void {
    const used = this.usedNames();
    for (const v of this.records()) {
      if (used.has(v.Name)) continue;
      try {
        if (removeAnonymous && v.Anonymous?.container === rec.Id) this.destroy(v);
        else this.unmount(v);
      } catch (e) {
        log.warn('volume cleanup failed', { volume: v.Name, e: String(e) });
      }
    }
  }

  private unmount(v: VolumeRecord): void {
    const data = this.mountpoint(v.Name);
    if (!v.Options || !isMountPoint(data)) return;
    run('umount', [data]);
    this.emit('unmount', v.Name, { driver: 'local' });
  }

  private anonymousOf(owner: string, target: string): VolumeRecord | undefined {
    return this.records().find((v) => v.Anonymous?.container === owner && v.Anonymous.target === target);
  }

  private lookups() {
    const anon = new Map(this.records().flatMap((v) => (v.Anonymous ? [[`${v.Anonymous.container}\0${v.Anonymous.target}`, v.Name] as const] : [])));
    return {
      container: (ref: string) => this.containers.find(ref),
      anonymous: (owner: string, target: string) => anon.get(`${owner}\0${target}`),
    };
  }

  /** planMounts with its errors as API errors (a missing --volumes-from container is a 404, as docker's). */
  private plan(rec: Pick<ContainerRecord, 'Id' | 'Spec'>, look: ReturnType<VolumeService['lookups']>): PlannedMount[] {
    try {
      return planMounts(rec, look);
    } catch (e) {
      const msg = (e as Error).message;
      throw msg.startsWith('No such container') ? notFound(msg) : badRequest(msg);
    }
  }

  /** Names of volumes some container refers to (containers whose --volumes-from source is gone count for nothing). */
  private usedNames(): Set<string> {
    const look = this.lookups();
    const used = new Set<string>();
    for (const c of this.containers.all()) {
      let planned: PlannedMount[];
      try {
        planned = this.plan(c, look);
      } catch {
        continue;
      }
      for (const m of planned) if (m.kind === 'volume' && m.name) used.add(m.name);
    }
    return used;
  }
}

/**
 * docker's copy-up (moby container.CopyImagePathContent): when the volume is empty and the image has a directory at
 * the target, copy its content in with owners, modes, xattrs, symlinks and hard links (GNU cp -a, which never
 * follows a link inside), then give the volume's root the directory's owner and mode. The target is resolved inside
 * the rootfs (an image symlink there leads to the image's directory, never the host's); the container is not
 * running yet, so nothing changes the tree meanwhile.
 */
export function copyUp(rootfs: string, target: string, volume: string): void {
  if (fs.readdirSync(volume).length > 0) return;
  const source = path.join(rootfs, resolveInRoot(rootfs, target));
  const st = fs.lstatSync(source, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return; // nothing (or no directory) at the target in the image
  if (fs.readdirSync(source).length > 0) run('cp', ['-a', '--', `${source}/.`, `${volume}/`]);
  fs.chownSync(volume, st.uid, st.gid);
  fs.chmodSync(volume, st.mode & 0o7777);
}

/** Run a field tool; its stderr becomes the error message. */
function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(stderr || (e as Error).message);
  }
}

/** Bytes in the volume's files (docker's directory.Size: directories themselves count for nothing). */
