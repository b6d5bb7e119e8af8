/**
 * Seccomp: docker's profile format (moby profiles/seccomp) turned into the OCI `linux.seccomp` of one container, and
 * `--security-opt` parsing (moby daemon/daemon_unix.go parseSecurityOpt, daemon/seccomp_linux.go WithSeccomp).
 *
 * The default profile is Docker's own default.json, taken from Debian's golang-github-docker-docker-dev by
 * scripts/setup.sh; podman's /usr/share/containers/seccomp.json (golang-github-containers-common) is only a fallback:
 * it allows mount/unshare/setns/clone namespaces/keyctl/ptrace to everyone, which Docker's gates on capabilities.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export const DOCKER_PROFILE_PATH = '/usr/local/share/berth/seccomp/docker-default.json';
export const PODMAN_PROFILE_PATH = '/usr/share/containers/seccomp.json';
export const DEFAULT_PROFILE_PATHS: readonly string[] = [DOCKER_PROFILE_PATH, PODMAN_PROFILE_PATH];

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

/** `includes` / `excludes` of a rule; minKernel is "<kernel>.<major>". */
export interface SeccompFilter {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}

export interface SeccompRule {
  name?: string;
  names?: string[];
  action: string;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  includes?: SeccompFilter;
  excludes?: SeccompFilter;
}

/** A profile in docker's format (what `--security-opt seccomp=FILE` and default.json contain). */
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: SeccompRule[] | null;
}

/** The OCI runtime-spec `linux.seccomp` object. */
export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: { names: string[]; action: string; errnoRet?: number; args?: SeccompArg[] }[];
}

/** What the rules are matched against. arch is a Node `process.arch`, caps the container's bounding set. */
export interface SeccompHost {
  arch: string;
  caps: readonly string[];
  kernel: string;
}

/** Node process.arch -> the libseccomp arch name docker's profiles use in includes/excludes.arches. */
const NODE_TO_NATIVE: Record<string, string> = {
  ia32: 'x86', x64: 'amd64', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x', mipsel: 'mipsel',
  riscv64: 'riscv64', loong64: 'loong64',
};
const NATIVE_TO_SECCOMP: Record<string, string> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  ppc64le: 'SCMP_ARCH_PPC64LE', s390x: 'SCMP_ARCH_S390X', mipsel: 'SCMP_ARCH_MIPSEL', riscv64: 'SCMP_ARCH_RISCV64',
  loong64: 'SCMP_ARCH_LOONGARCH64',
};

// ---- decoding (a user profile is untrusted input: check the shape like Go's typed json.Unmarshal would) ----

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function fail(msg: string): never {
  throw new Error(`decoding seccomp profile failed: ${msg}`);
}
function optional(o: Json, key: string, where: string, ok: (v: unknown) => boolean, what: string): void {
  if (o[key] !== undefined && o[key] !== null && !ok(o[key])) fail(`${where}${key} must be ${what}`);
}
/** Seccomp values are uint64; JSON.parse rounds past 2^53, so refuse those rather than filter on a wrong value. */
const isUint = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

function checkKernelVersion(v: string, where: string): void {
  const parts = v.split('.');
  const ok = parts.length === 2 && parts.every((p) => /^\d+$/.test(p) && Number(p) < 256) && v !== '0.0';
  if (v !== '' && !ok) fail(`${where}: invalid kernel version: "${v}", expected "<kernel>.<major>"`);
}

function checkFilter(f: unknown, where: string): void {
  if (f === undefined || f === null) return;
  if (!isObject(f)) fail(`${where} must be an object`);
  optional(f, 'caps', `${where}.`, isStrings, 'an array of strings');
  optional(f, 'arches', `${where}.`, isStrings, 'an array of strings');
  optional(f, 'minKernel', `${where}.`, (v) => typeof v === 'string', 'a string');
  if (typeof f.minKernel === 'string') checkKernelVersion(f.minKernel, `${where}.minKernel`);
}

function checkRule(r: unknown, i: number): void {
  const at = `syscalls[${i}]`;
  if (!isObject(r)) fail(`${at} must be an object`);
  if (typeof r.action !== 'string') fail(`${at}.action must be a string`);
  optional(r, 'name', `${at}.`, (v) => typeof v === 'string', 'a string');
  optional(r, 'names', `${at}.`, isStrings, 'an array of strings');
  if (r.name && isStrings(r.names) && r.names.length > 0) {
    throw new Error("'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'");
  }
  optional(r, 'errnoRet', `${at}.`, isUint, 'a non-negative integer');
  optional(r, 'args', `${at}.`, Array.isArray, 'an array');
  (Array.isArray(r.args) ? r.args : []).forEach((a: unknown, j) => {
    const aw = `${at}.args[${j}]`;
    if (!isObject(a)) fail(`${aw} must be an object`);
    for (const k of ['index', 'value']) if (!isUint(a[k])) fail(`${aw}.${k} must be an integer in 0..2^53`);
    optional(a, 'valueTwo', `${aw}.`, isUint, 'an integer in 0..2^53');
    if (typeof a.op !== 'string') fail(`${aw}.op must be a string`);
  });
  checkFilter(r.includes, `${at}.includes`);
  checkFilter(r.excludes, `${at}.excludes`);
}

/** Parse and check a docker-format profile; errors read "decoding seccomp profile failed: ..." like docker's. */
export function decodeProfile(text: string): SeccompProfile {
  let p: unknown;
  try {
    p = JSON.parse(text);
  } catch (e) {
    fail((e as Error).message);
  }
  if (!isObject(p)) fail('the profile must be a JSON object');
  optional(p, 'defaultAction', '', (v) => typeof v === 'string', 'a string');
  optional(p, 'defaultErrnoRet', '', isUint, 'a non-negative integer');
  optional(p, 'architectures', '', isStrings, 'an array of strings');
  optional(p, 'flags', '', isStrings, 'an array of strings');
  optional(p, 'archMap', '', (v) => Array.isArray(v) && v.every((a) => isObject(a) && typeof a.architecture === 'string'),
    'an array of {architecture, subArchitectures}');
  optional(p, 'syscalls', '', Array.isArray, 'an array');
  if (isStrings(p.architectures) && p.architectures.length > 0 && Array.isArray(p.archMap) && p.archMap.length > 0) {
    throw new Error("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  (Array.isArray(p.syscalls) ? p.syscalls : []).forEach(checkRule);
  return { defaultAction: '', ...p } as SeccompProfile;
}

/** Read and decode a profile file. */
export function loadProfile(file: string): SeccompProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`opening seccomp profile (${file}) failed: ${(e as Error).message}`);
  }
  return decodeProfile(text);
}

// ---- conversion (moby profiles/seccomp/seccomp_linux.go setupSeccomp) ----

/** "6.18.44-fc" -> [6, 18]: like docker, only kernel and major revision count. */
function kernelVersion(release: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) throw new Error(`failed to parse kernel version "${release}"`);
  return [Number(m[1]), Number(m[2])];
}
function kernelAtLeast(release: string, min: string): boolean {
  const [k, maj] = kernelVersion(release);
  const [mk, mmaj] = min.split('.').map(Number);
  return k > mk || (k === mk && maj >= mmaj);
}

/** Docker's rule: any excluded arch/cap/kernel drops the rule; every included one must hold. */
export function ruleApplies(rule: SeccompRule, host: SeccompHost): boolean {
  const arch = NODE_TO_NATIVE[host.arch] ?? '';
  const ex = rule.excludes ?? {};
  const inc = rule.includes ?? {};
  if (ex.arches?.includes(arch)) return false;
  if (ex.caps?.some((c) => host.caps.includes(c))) return false;
  if (ex.minKernel && kernelAtLeast(host.kernel, ex.minKernel)) return false;
  if (inc.arches?.length && !inc.arches.includes(arch)) return false;
  if (inc.caps?.some((c) => !host.caps.includes(c))) return false;
  if (inc.minKernel && !kernelAtLeast(host.kernel, inc.minKernel)) return false;
  return true;
}

/** The OCI seccomp of one container; undefined for a profile with no defaultAction and no rules (docker: disabled). */
export function toOciSeccomp(profile: SeccompProfile, host: SeccompHost): OciSeccomp | undefined {
  if (!profile.defaultAction && !profile.syscalls?.length) return undefined;
  const out: OciSeccomp = { defaultAction: profile.defaultAction };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  const archs = [...(profile.architectures ?? [])];
  const native = NATIVE_TO_SECCOMP[NODE_TO_NATIVE[host.arch] ?? ''];
  const entry = profile.archMap?.find((a) => a.architecture === native);
  if (entry) archs.push(entry.architecture, ...(entry.subArchitectures ?? []));
  if (archs.length > 0) out.architectures = archs;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.listenerPath) out.listenerPath = profile.listenerPath;
  if (profile.listenerMetadata) out.listenerMetadata = profile.listenerMetadata;
  out.syscalls = (profile.syscalls ?? []).filter((r) => ruleApplies(r, host)).map((r) => ({
    names: r.name ? [r.name] : [...(r.names ?? [])],
    action: r.action,
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
    ...(r.args?.length ? { args: r.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
  }));
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

/**
 * The daemon's default profile, loaded once, converted once per capability set (the cached objects are frozen:
 * they are shared by every container spec with the same caps).
 */
export class DefaultSeccomp {
  readonly path: string;
  private readonly profile: SeccompProfile;
  private readonly cache = new Map<string, OciSeccomp | undefined>();

  constructor(paths: readonly string[] = DEFAULT_PROFILE_PATHS, readonly host = { arch: process.arch, kernel: os.release() }) {
    const found = paths.find((p) => fs.existsSync(p));
    if (!found) throw new Error(`no default seccomp profile found (looked for ${paths.join(', ')}): run scripts/setup.sh`);
    this.path = found;
    this.profile = loadProfile(found);
  }

  forCaps(caps: readonly string[]): OciSeccomp | undefined {
    const key = [...caps].sort().join(',');
    if (!this.cache.has(key)) this.cache.set(key, deepFreeze(toOciSeccomp(this.profile, { ...this.host, caps })));
    return this.cache.get(key);
  }
}

// ---- --security-opt ----

/** 'default' = the daemon's profile (also `seccomp=builtin`), 'unconfined' = none, else a user profile. */
export type SeccompChoice = 'default' | 'unconfined' | SeccompProfile;

export interface SecurityOptions {
  seccomp: SeccompChoice;
  noNewPrivileges: boolean;
}

/** strconv.ParseBool */
const BOOLS: Record<string, boolean> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false };

/**
 * HostConfig.SecurityOpt -> options. `seccomp=` takes `unconfined`, `builtin`, the profile JSON itself (what the
 * docker CLI sends: it reads the file client-side) or a path on the daemon's host (what a thin client may send).
 * label=/apparmor=/disable are accepted and ignored: this engine has no SELinux/AppArmor support, like docker on a
 * host without them.
 */
export function parseSecurityOpt(list: readonly string[] | null | undefined): SecurityOptions {
  const out: SecurityOptions = { seccomp: 'default', noNewPrivileges: false };
  for (const opt of list ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue;
    const sep = opt.includes('=') ? '=' : opt.includes(':') ? ':' : '';
    if (!sep) throw new Error(`invalid --security-opt 1: "${opt}"`);
    const key = opt.slice(0, opt.indexOf(sep));
    const value = opt.slice(opt.indexOf(sep) + 1);
    switch (key) {
      case 'label':
      case 'apparmor':
        break;
      case 'seccomp':
        if (value === 'unconfined' || value === 'builtin') out.seccomp = value === 'builtin' ? 'default' : value;
        else out.seccomp = value.trimStart().startsWith('{') ? decodeProfile(value) : loadProfile(value);
        break;
      case 'no-new-privileges':
        if (!(value in BOOLS)) throw new Error(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = BOOLS[value];
        break;
      default:
        throw new Error(`invalid --security-opt 2: "${opt}"`);
    }
  }
  return out;
}

/** linux.seccomp for a container (docker WithSeccomp): none when unconfined or privileged. */
export function containerSeccomp(
  choice: SeccompChoice,
  opts: { privileged: boolean; caps: readonly string[]; defaults: DefaultSeccomp },
): OciSeccomp | undefined {
  if (choice === 'unconfined' || opts.privileged) return undefined;
  if (choice === 'default') return opts.defaults.forCaps(opts.caps);
  return toOciSeccomp(choice, { ...opts.defaults.host, caps: opts.caps });
}
