/** Linux capabilities: docker's default set, CapAdd/CapDrop/--privileged rules (moby oci/caps), bounding-set probe. */
import * as fs from 'node:fs';

/** Capability names by bit number (linux/capability.h). */
export const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Names of the capabilities set in a hex mask as printed in /proc/<pid>/status (CapBnd: 000001fffeffffff). */
export function capsFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  return CAP_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The capabilities in this process's bounding set: what a privileged container can really get here. */
export function boundingCaps(status = fs.readFileSync('/proc/self/status', 'utf8')): string[] {
  const line = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  if (!line) throw new Error('no CapBnd line in /proc/self/status');
  return capsFromMask(line[1]);
}

/** `net_admin` / `CAP_NET_ADMIN` / `ALL` -> canonical name, with docker's errors for unknown/unavailable ones. */
function normalize(caps: string[], available: readonly string[]): string[] {
  return caps.map((c) => {
    const up = c.toUpperCase();
    if (up === 'ALL') return up;
    const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
    if (!(CAP_NAMES as readonly string[]).includes(name)) throw new Error(`unknown capability: "${name}"`);
    if (!available.includes(name)) throw new Error(`capability not supported by your kernel or not available in the current environment: "${name}"`);
    return name;
  });
}

/** The container's capability list from the defaults, CapAdd, CapDrop and Privileged (moby TweakCapabilities). */
export function containerCaps(opts: { capAdd?: string[] | null; capDrop?: string[] | null; privileged?: boolean; available: readonly string[] }): string[] {
  const { available } = opts;
  if (opts.privileged) return [...available];
  const adds = opts.capAdd ?? [];
  const drops = opts.capDrop ?? [];
  if (adds.length === 0 && drops.length === 0) return [...DEFAULT_CAPS];
  const drop = normalize(drops, available);
  const add = normalize(adds, available);
  if (add.includes('ALL')) return available.filter((c) => !drop.includes(c));
  if (drop.includes('ALL')) return [...new Set(add)];
  return [...new Set([...DEFAULT_CAPS.filter((c) => !drop.includes(c)), ...add])];
}
