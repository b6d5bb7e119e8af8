/**
 * What a non-root user needs for rootless Berth, and the command that fixes each missing piece. `gatherFacts` reads
 * the machine; `missingPieces` is pure. berthd runs it before it creates anything; `berth system rootless-check`
 * prints it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { which } from '../common/which';

export interface HostFactsRootless {
  user: string;
  uid: number;
  /** Ranges of /etc/subuid and /etc/subgid that name this user (by name or uid). */
  subuidCount: number;
  subgidCount: number;
  /** Absolute paths of the tools found on PATH, by name. */
  tools: Record<string, string | undefined>;
  /** newuidmap/newgidmap must be setuid root to write the maps. */
  uidmapPrivileged: boolean;
  /** /proc/sys values that can forbid unprivileged user namespaces (undefined: the file is absent). */
  maxUserNamespaces?: number;
  unprivilegedUsernsClone?: number;
  apparmorRestrictUserns?: number;
  kernel: [number, number];
  runtimeDir?: string;
  runtimeDirOk: boolean;
}

export interface Missing {
  piece: string;
  fix: string;
}

/** A user namespace needs 65536 ids to hold the images' usual owners (rootless Docker's minimum). */
export const MIN_SUBIDS = 65536;
export const REQUIRED_TOOLS = ['newuidmap', 'newgidmap', 'unshare', 'slirp4netns'] as const;

export function missingPieces(f: HostFactsRootless): Missing[] {
  const out: Missing[] = [];
  const apt = (pkg: string): string => `sudo apt-get install -y ${pkg}`;
  if (!f.tools.newuidmap || !f.tools.newgidmap) out.push({ piece: 'newuidmap/newgidmap (package uidmap)', fix: apt('uidmap') });
  else if (!f.uidmapPrivileged) out.push({ piece: 'setuid newuidmap/newgidmap', fix: 'sudo chmod u+s /usr/bin/newuidmap /usr/bin/newgidmap' });
  if (!f.tools.unshare) out.push({ piece: 'unshare (package util-linux)', fix: apt('util-linux') });
  if (!f.tools.slirp4netns) out.push({ piece: 'slirp4netns (the network of rootless containers)', fix: apt('slirp4netns') });
  const range = `100000-${100000 + MIN_SUBIDS - 1}`;
  if (f.subuidCount < MIN_SUBIDS) out.push({ piece: `subordinate user ids for ${f.user} in /etc/subuid (${MIN_SUBIDS} needed, ${f.subuidCount} found)`, fix: `sudo usermod --add-subuids ${range} ${f.user}` });
  if (f.subgidCount < MIN_SUBIDS) out.push({ piece: `subordinate group ids for ${f.user} in /etc/subgid (${MIN_SUBIDS} needed, ${f.subgidCount} found)`, fix: `sudo usermod --add-subgids ${range} ${f.user}` });
  if (f.maxUserNamespaces === 0) out.push({ piece: 'user namespaces (user.max_user_namespaces is 0)', fix: 'sudo sysctl -w user.max_user_namespaces=28633' });
  if (f.unprivilegedUsernsClone === 0) out.push({ piece: 'unprivileged user namespaces (kernel.unprivileged_userns_clone is 0)', fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1' });
  if (f.apparmorRestrictUserns === 1) out.push({ piece: 'unprivileged user namespaces (AppArmor restricts them)', fix: 'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0' });
  const [major, minor] = f.kernel;
  if (major < 5 || (major === 5 && minor < 11)) out.push({ piece: `overlayfs in user namespaces (Linux 5.11 or later; this is ${major}.${minor})`, fix: 'upgrade the kernel (Debian 12 ships 6.1)' });
  if (!f.runtimeDir) out.push({ piece: 'XDG_RUNTIME_DIR (where the socket lives)', fix: `sudo loginctl enable-linger ${f.user}, then log in again (or export XDG_RUNTIME_DIR=/run/user/${f.uid})` });
  else if (!f.runtimeDirOk) out.push({ piece: `a private XDG_RUNTIME_DIR owned by ${f.user} (${f.runtimeDir})`, fix: `sudo install -d -m 700 -o ${f.user} ${f.runtimeDir}` });
  return out;
}

/** One message for all missing pieces (berthd's refusal and the check's output). */
export function describeMissing(missing: Missing[]): string {
  return ['rootless Berth cannot run here; missing:', ...missing.map((m) => `  - ${m.piece}\n      fix: ${m.fix}`)].join('\n');
}

/** Sum of the counts of the ranges in a subuid/subgid file text that belong to `user` or `uid`. */
export function subidCount(text: string, user: string, uid: number): number {
  let n = 0;
  for (const line of text.split('\n')) {
    const [who, , count] = line.trim().split(':');
    if ((who === user || who === String(uid)) && /^\d+$/.test(count ?? '')) n += Number(count);
  }
  return n;
}

export function gatherFacts(env: NodeJS.ProcessEnv = process.env): HostFactsRootless {
  const info = os.userInfo();
  const tools: Record<string, string | undefined> = {};
  for (const t of REQUIRED_TOOLS) tools[t] = which(t, env.PATH);
  const privileged = (p: string | undefined): boolean => {
    if (!p) return false;
    const st = fs.statSync(p);
    return (st.mode & 0o4000) !== 0 && st.uid === 0; // Debian's uidmap is setuid root
  };
  const runtimeDir = env.XDG_RUNTIME_DIR && path.isAbsolute(env.XDG_RUNTIME_DIR) ? env.XDG_RUNTIME_DIR : undefined;
  const rd = runtimeDir ? fs.statSync(runtimeDir, { throwIfNoEntry: false }) : undefined;
  const kernel = os.release().split('.').map((x) => parseInt(x, 10));
  return {
    user: info.username,
    uid: info.uid,
    subuidCount: subidCount(readOr('/etc/subuid'), info.username, info.uid),
    subgidCount: subidCount(readOr('/etc/subgid'), info.username, info.uid),
    tools,
    uidmapPrivileged: privileged(tools.newuidmap) && privileged(tools.newgidmap),
    maxUserNamespaces: sysctl('user/max_user_namespaces'),
    unprivilegedUsernsClone: sysctl('kernel/unprivileged_userns_clone'),
    apparmorRestrictUserns: sysctl('kernel/apparmor_restrict_unprivileged_userns'),
    kernel: [kernel[0] ?? 0, kernel[1] ?? 0],
    ...(runtimeDir ? { runtimeDir } : {}),
    runtimeDirOk: !!rd && rd.isDirectory() && rd.uid === info.uid && (rd.mode & 0o077) === 0,
  };
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function sysctl(name: string): number | undefined {
  const v = readOr(`/proc/sys/${name}`).trim();
  return v === '' ? undefined : Number(v);
}


/** Everything berthd needs as a non-root user, with what /dev/net/tun adds (slirp4netns opens it). */
export function rootlessMissing(): Missing[] {
  const missing = missingPieces(gatherFacts());
  try {
    fs.accessSync('/dev/net/tun', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    missing.push({ piece: '/dev/net/tun open to users (slirp4netns needs it)', fix: 'sudo chmod 0666 /dev/net/tun (Debian\'s udev default)' });
  }
  return missing;
}
