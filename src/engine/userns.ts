/**
 * `--userns-remap` (dockerd's): containers run in a user namespace whose ids come from the remap user's /etc/subuid
 * and /etc/subgid ranges, so container root is an unprivileged host uid. Image layers are shared and owned by host
 * ids, so each layer gets a copy with ownership shifted into the range, made once per layer and range (docker's
 * approach: crun 1.8.1 can idmap bind mounts but not a rootfs it is handed, and overlayfs itself cannot be idmapped).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { getxattr, setxattr } from '../native';
import type { OciIdMapping as IdMapping } from '../spec/oci';

export interface IdMaps {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

export const DEFAULT_REMAP_USER = 'berthremap';
const DEFAULT_RANGE = 65536;

/** Parse `--userns-remap`: `default` or USER[:GROUP] (names or numbers). */
export function parseRemapFlag(value: string): { user: string; group: string } {
  if (value === 'default') return { user: DEFAULT_REMAP_USER, group: DEFAULT_REMAP_USER };
  const [user, group, extra] = value.split(':');
  if (!user || extra !== undefined || group === '') throw new Error(`invalid --userns-remap "${value}": expected default or USER[:GROUP]`);
  return { user, group: group ?? user };
}

/** The ranges /etc/subuid (or subgid) gives `name` or its numeric id, in file order, as container mappings. */
export function subIdMappings(file: string, name: string, id: number | undefined): IdMapping[] {
  const out: IdMapping[] = [];
  let next = 0;
  for (const line of file.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (!count || (owner !== name && owner !== String(id))) continue;
    const hostID = Number(start);
    const size = Number(count);
    if (!Number.isInteger(hostID) || !Number.isInteger(size) || size <= 0) continue;
    out.push({ containerID: next, hostID, size });
    next += size;
  }
  return out;
}

/** The first id after every range in a subuid/subgid file (at least 100000), for a new range. */
export function nextFreeId(file: string): number {
  let free = 100000;
  for (const line of file.split('\n')) {
    const [, start, count] = line.trim().split(':');
    const end = Number(start) + Number(count);
    if (Number.isFinite(end) && end > free) free = end;
  }
  return free;
}

/** The host id of container id `id`; the kernel's overflow id when the mappings do not cover it. */
export function toHost(maps: IdMapping[], id: number): number {
  for (const m of maps) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + id - m.containerID;
  return 65534;
}

/**
 * A file capability (security.capability) rewritten for the namespace: a v2 capability (no root id) would apply in
 * every namespace, so it becomes v3 with the remapped root as its root id, honoured only inside remapped containers.
 */
export function namespacedCapability(value: Buffer, rootId: number): Buffer | undefined {
  if (value.length < 20) return undefined;
  const magic = value.readUInt32LE(0);
  const out = Buffer.alloc(24);
  value.copy(out, 0, 0, 20);
  out.writeUInt32LE(0x03000000 | (magic & 0x1), 0); // revision 3, keep the effective flag
  out.writeUInt32LE(rootId, 20);
  return out;
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function idOf(db: 'passwd' | 'group', name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : undefined;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** docker's dockremap: a system user with one 65536-id range in both files, made on first use. */
function ensureDefaultUser(): void {
  if (idOf('passwd', DEFAULT_REMAP_USER) === undefined) run('useradd', ['-r', '-M', '-s', '/bin/false', DEFAULT_REMAP_USER]);
  const uid = idOf('passwd', DEFAULT_REMAP_USER);
  if (subIdMappings(readOr('/etc/subuid'), DEFAULT_REMAP_USER, uid).length && subIdMappings(readOr('/etc/subgid'), DEFAULT_REMAP_USER, uid).length) return;
  const start = Math.max(nextFreeId(readOr('/etc/subuid')), nextFreeId(readOr('/etc/subgid')));
  const range = `${start}-${start + DEFAULT_RANGE - 1}`;
  run('usermod', ['--add-subuids', range, '--add-subgids', range, DEFAULT_REMAP_USER]);
}

/** The daemon's remapping: its id maps, the shifted layer copies and the ownership of what containers write. */
export class UsernsRemap {
  readonly root: { uid: number; gid: number };
  private readonly remapDir: string;

  constructor(readonly maps: IdMaps, dataRoot: string) {
    this.root = this.hostIds(0, 0);
    this.remapDir = path.join(dataRoot, 'image', 'layers-remap', `${this.root.uid}.${this.root.gid}`);
  }

  /** Resolve the flag against /etc/subuid and /etc/subgid (creating berthremap for `default`). */
  static resolve(flag: string, dataRoot: string): UsernsRemap {
    const { user, group } = parseRemapFlag(flag);
    if (user === DEFAULT_REMAP_USER) ensureDefaultUser();
    const uid = idOf('passwd', user);
    if (uid === undefined) throw new Error(`--userns-remap: no such user "${user}"`);
    const gid = idOf('group', group);
    const uidMappings = subIdMappings(readOr('/etc/subuid'), user, uid);
    const gidMappings = subIdMappings(readOr('/etc/subgid'), group, gid);
    if (!uidMappings.length) throw new Error(`--userns-remap: no subordinate uid range for "${user}" in /etc/subuid`);
    if (!gidMappings.length) throw new Error(`--userns-remap: no subordinate gid range for "${group}" in /etc/subgid`);
    // the remapped root must be able to reach its rootfs and bind files under the data root (docker sets 0711 too)
    fs.chmodSync(dataRoot, fs.statSync(dataRoot).mode | 0o011);
    return new UsernsRemap({ uidMappings, gidMappings }, dataRoot);
  }

  /**
   * docker's default net sysctls (any port, ping sockets) in a netns the host made: the remapped root has no
   * capabilities there, so the daemon writes them before the container joins.
   */
  netnsDefaults(nsPath: string): void {
    run('nsenter', [`--net=${nsPath}`, 'sysctl', '-q', '-w', 'net.ipv4.ip_unprivileged_port_start=0', 'net.ipv4.ping_group_range=0 2147483647']);
  }

  /** The host ids of container ids. */
  hostIds(uid: number, gid: number): { uid: number; gid: number } {
    return { uid: toHost(this.maps.uidMappings, uid), gid: toHost(this.maps.gidMappings, gid) };
  }

  /** The shifted copies of image layer dirs (same order), made on first use, at layers-remap/<uid>.<gid>/<diffid>. */
  layerDirs(dirs: string[]): string[] {
    return dirs.map((d) => this.shifted(d));
  }

  /** Give the remapped root what berthd made for a container (upper and work dirs, etc files, new volumes). */
  own(...paths: string[]): void {
    for (const p of paths) fs.chownSync(p, this.root.uid, this.root.gid);
  }

  private shifted(layer: string): string {
    const dst = path.join(this.remapDir, path.basename(path.dirname(layer))); // layers are <layers>/<diffid>/diff
    if (fs.existsSync(dst)) return dst;
    fs.mkdirSync(this.remapDir, { recursive: true, mode: 0o711 });
    const tmp = path.join(this.remapDir, `.tmp-${randomBytes(6).toString('hex')}`);
    try {
      // cp keeps modes, times, xattrs (overlay whiteouts and opaque marks) and device nodes; ownership is shifted after
      run('cp', ['-a', '--reflink=auto', layer, tmp]);
      this.shiftTree(layer, tmp);
      run('sync', ['-f', tmp]);
      fs.renameSync(tmp, dst);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(dst)) throw e; // else a concurrent start made it first
    }
    return dst;
  }

  /** lchown every entry of `dst` by the mappings, read from `src` (chown clears setuid bits and capabilities). */
  private shiftTree(src: string, dst: string): void {
    const st = fs.lstatSync(src);
    fs.lchownSync(dst, toHost(this.maps.uidMappings, st.uid), toHost(this.maps.gidMappings, st.gid));
    if (st.isSymbolicLink()) return;
    fs.chmodSync(dst, st.mode & 0o7777);
    if (st.isFile()) {
      const cap = getxattr(src, 'security.capability');
      const ns = cap && namespacedCapability(cap, this.root.uid);
      if (ns) setxattr(dst, 'security.capability', ns);
    } else if (st.isDirectory()) {
      for (const name of fs.readdirSync(src)) this.shiftTree(path.join(src, name), path.join(dst, name));
    }
  }
}
