/** `--device HOST[:CONTAINER][:PERMS]` and `--device-cgroup-rule 'c 1:3 rwm'`, as docker parses and applies them. */
import type { OciDevice, OciDeviceRule } from './oci';

/** HostConfig.Devices entry. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

const validMode = (m: string): boolean => /^[rwm]{1,3}$/.test(m) && new Set(m).size === m.length;

/** docker's parseDevice: `HOST`, `HOST:CONTAINER`, `HOST:PERMS` or `HOST:CONTAINER:PERMS`. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  let [src, dst, perms] = [parts[0], '', 'rwm'];
  if (parts.length === 3) {
    if (!validMode(parts[2])) throw new Error(`invalid device mode: ${parts[2]}`);
    [dst, perms] = [parts[1], parts[2]];
  } else if (parts.length === 2) {
    if (validMode(parts[1])) perms = parts[1];
    else dst = parts[1];
  } else if (parts.length !== 1) throw new Error(`invalid device specification: ${spec}`);
  if (!src.startsWith('/')) throw new Error(`${src} is not an absolute path`);
  dst ||= src;
  if (!dst.startsWith('/')) throw new Error(`${dst} is not an absolute path`);
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

const RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** A `--device-cgroup-rule` as an OCI allow rule (`*` = any number). */
export function parseDeviceCgroupRule(rule: string): OciDeviceRule {
  const m = RULE.exec(rule);
  if (!m) throw new Error(`invalid device cgroup format '${rule}'`);
  const num = (s: string): number | undefined => (s === '*' ? undefined : Number(s));
  const out: OciDeviceRule = { allow: true, type: m[1] as OciDeviceRule['type'], access: m[4] };
  const [major, minor] = [num(m[2]), num(m[3])];
  if (major !== undefined) out.major = major;
  if (minor !== undefined) out.minor = minor;
  return out;
}

/** The node a mapping creates in the container (the host node's numbers and mode, owned by root) and its allow rule. */
export function containerDevice(
  d: DeviceMapping,
  node: { char: boolean; major: number; minor: number; mode: number },
): { device: OciDevice; rule: OciDeviceRule } {
  const type = node.char ? 'c' : 'b';
  return {
    device: { type, path: d.PathInContainer, major: node.major, minor: node.minor, fileMode: node.mode & 0o777, uid: 0, gid: 0 },
    rule: { allow: true, type, major: node.major, minor: node.minor, access: d.CgroupPermissions || 'rwm' },
  };
}
