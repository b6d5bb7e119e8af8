/**
 * `run`/`create` flags and their translation into the POST /containers/create body, field for field as
 * docker/cli's opts.go builds it (same names, same null/[]/{} forms, same order).
 * Over ~400 lines: one table of docker's run/create flags and the body fields they fill, as docker/cli's opts.go.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { FlagSpec, ParsedFlags } from '../flags';
import { ramInBytes } from '../../common/units';
import { parseGoDuration } from '../../common/duration';
import { isProtocol, portKeys, portRange, splitPortProto } from '../../common/ports';
import { keyValues } from './util';
import { parseDevice, parseDeviceCgroupRule } from '../../spec/devices';

const list = (name: string, usage: string, short?: string, varname = 'list'): FlagSpec => ({ name, short, kind: 'list', usage, varname });

/** opts.ValidateLink: "name" or "name:alias". */
function checkLink(v: string): void {
  const parts = v.split(':');
  if (parts.length > 2 || parts.some((x) => x.replace(/^\//, '') === '')) throw new Error(`bad format for links: ${v}`);
}

function checkEnv(v: string): void {
  if (v.split('=')[0] === '') throw new Error(`invalid environment variable: ${v}`);
}

export const containerFlags: FlagSpec[] = [
  list('add-host', 'Add a custom host-to-IP mapping (host:ip)'),
  { ...list('attach', 'Attach to STDIN, STDOUT or STDERR', 'a'), check: (v) => {
    if (!/^(stdin|stdout|stderr)$/i.test(v)) throw new Error('valid streams are STDIN, STDOUT and STDERR');
  } },
  { name: 'blkio-weight', kind: 'int', varname: 'uint16', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  list('cap-add', 'Add Linux capabilities'),
  list('cap-drop', 'Drop Linux capabilities'),
  { name: 'cpu-period', kind: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', kind: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpu-shares', short: 'c', kind: 'int', usage: 'CPU shares (relative weight)' },
  { name: 'cpus', kind: 'string', varname: 'decimal', usage: 'Number of CPUs', check: (v) => void nanoCpus(v) },
  { name: 'cpuset-cpus', kind: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'cpuset-mems', kind: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
  { ...list('device', 'Add a host device to the container'), check: (v) => void parseDevice(v) },
  { ...list('device-cgroup-rule', 'Add a rule to the cgroup allowed devices list'), check: (v) => void parseDeviceCgroupRule(v) },
  { name: 'health-cmd', kind: 'string', usage: 'Command to run to check health' },
  { name: 'health-interval', kind: 'string', varname: 'duration', usage: 'Time between running the check (ms|s|m|h) (default 0s)', check: (v) => void duration('health-interval', v) },
  { name: 'health-retries', kind: 'int', usage: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-period', kind: 'string', varname: 'duration', usage: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)', check: (v) => void duration('health-start-period', v) },
  { name: 'health-timeout', kind: 'string', varname: 'duration', usage: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)', check: (v) => void duration('health-timeout', v) },
  { ...list('dns', 'Set custom DNS servers'), check: (v) => {
    if (!isIP(v)) throw new Error(`IP address is not correctly formatted: ${v}`);
  } },
  { name: 'domainname', kind: 'string', usage: 'Container NIS domain name' },
  { name: 'entrypoint', kind: 'string', usage: 'Overwrite the default ENTRYPOINT of the image' },
  { ...list('env', 'Set environment variables', 'e'), check: checkEnv },
  list('env-file', 'Read in a file of environment variables'),
  list('expose', 'Expose a port or a range of ports'),
  list('group-add', 'Add additional groups to join'),
  { name: 'hostname', short: 'h', kind: 'string', usage: 'Container host name' },
  { name: 'init', kind: 'bool', usage: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'interactive', short: 'i', kind: 'bool', usage: 'Keep STDIN open even if not attached' },
  list('label', 'Set meta data on a container', 'l'),
  list('label-file', 'Read in a line delimited file of labels'),
  { name: 'kernel-memory', kind: 'string', varname: 'bytes', usage: 'Kernel memory limit', check: (v) => void ramInBytes(v) },
  { name: 'log-driver', kind: 'string', usage: 'Logging driver for the container' },
  { ...list('link', 'Add link to another container'), check: checkLink },
  list('log-opt', 'Log driver options'),
  { name: 'memory', short: 'm', kind: 'string', varname: 'bytes', usage: 'Memory limit', check: (v) => void ramInBytes(v) },
  { name: 'memory-reservation', kind: 'string', varname: 'bytes', usage: 'Memory soft limit', check: (v) => void ramInBytes(v) },
  { name: 'memory-swap', kind: 'string', varname: 'bytes', usage: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", check: (v) => void swapBytes(v) },
  { name: 'memory-swappiness', kind: 'int', usage: 'Tune container memory swappiness (0 to 100)', default: -1 },
  { ...list('mount', 'Attach a filesystem mount to the container', undefined, 'mount'), check: (v) => void parseMount(v) },
  { name: 'name', kind: 'string', usage: 'Assign a name to the container' },
  { name: 'platform', kind: 'string', usage: 'Set platform if server is multi-platform capable' },
  { name: 'network', kind: 'string', varname: 'network', usage: 'Connect a container to a network' },
  list('network-alias', 'Add network-scoped alias for the container'),
  { name: 'ip', kind: 'string', usage: 'IPv4 address (e.g., 172.30.100.104)', check: (v) => {
    if (isIP(v) !== 4) throw new Error(`invalid IPv4 address: ${v}`);
  } },
  { name: 'ip6', kind: 'string', usage: 'IPv6 address (e.g., 2001:db8::33)', check: (v) => {
    if (isIP(v) !== 6) throw new Error(`invalid IPv6 address: ${v}`);
  } },
  { name: 'mac-address', kind: 'string', usage: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  list('dns-search', 'Set custom DNS search domains'),
  list('dns-option', 'Set DNS options'),
  { name: 'no-healthcheck', kind: 'bool', usage: 'Disable any container-specified HEALTHCHECK' },
  { name: 'oom-kill-disable', kind: 'bool', usage: 'Disable OOM Killer' },
  { name: 'oom-score-adj', kind: 'int', usage: "Tune host's OOM preferences (-1000 to 1000)" },
  { name: 'pids-limit', kind: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'privileged', kind: 'bool', usage: 'Give extended privileges to this container' },
  list('publish', "Publish a container's port(s) to the host", 'p'),
  { name: 'publish-all', short: 'P', kind: 'bool', usage: 'Publish all exposed ports to random ports' },
  { name: 'read-only', kind: 'bool', usage: "Mount the container's root filesystem as read only" },
  { name: 'restart', kind: 'string', usage: 'Restart policy to apply when a container exits', default: 'no', check: (v) => void parseRestart(v) },
  { name: 'rm', kind: 'bool', usage: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { name: 'runtime', kind: 'string', usage: 'Runtime to use for this container' },
  list('security-opt', 'Security Options'),
  { name: 'shm-size', kind: 'string', varname: 'bytes', usage: 'Size of /dev/shm', check: (v) => void ramInBytes(v) },
  { name: 'stop-signal', kind: 'string', usage: 'Signal to stop the container' },
  { name: 'stop-timeout', kind: 'int', usage: 'Timeout (in seconds) to stop a container' },
  list('sysctl', 'Sysctl options', undefined, 'map'),
  list('tmpfs', 'Mount a tmpfs directory'),
  { name: 'tty', short: 't', kind: 'bool', usage: 'Allocate a pseudo-TTY' },
  { ...list('ulimit', 'Ulimit options', undefined, 'ulimit'), check: (v) => void parseUlimit(v) },
  { name: 'user', short: 'u', kind: 'string', usage: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'userns', kind: 'string', usage: 'User namespace to use', check: (v) => { if (v !== '' && v !== 'host') throw new Error('--userns: invalid USER mode'); } },
  list('volume', 'Bind mount a volume', 'v'),
  list('volumes-from', 'Mount volumes from the specified container(s)'),
  { name: 'workdir', short: 'w', kind: 'string', usage: 'Working directory inside the container' },
];

export interface CreateRequest { name?: string; platform?: string; body: Record<string, unknown> }

/** A Go duration flag in nanoseconds (the API's unit); negative durations are refused as docker does. */
function duration(flag: string, v: string): number {
  const ns = parseGoDuration(v);
  if (ns < 0) throw new Error(`--${flag} cannot be negative`);
  return ns;
}

/** --memory-swap: bytes, or -1 for unlimited (opts.MemSwapBytes). */
export function swapBytes(v: string): number {
  return v === '-1' ? -1 : ramInBytes(v);
}

const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** --ulimit "nofile=1024:2048" -> {Name, Hard, Soft} (units.ParseUlimit). */
export function parseUlimit(v: string): { Name: string; Hard: number; Soft: number } {
  const eq = v.indexOf('=');
  if (eq < 0) throw new Error(`invalid ulimit argument: ${v}`);
  const name = v.slice(0, eq);
  if (!ULIMITS.has(name)) throw new Error(`invalid ulimit type: ${name}`);
  const parts = v.slice(eq + 1).split(':');
  if (parts.length > 2 || parts.some((x) => !/^-?\d+$/.test(x))) throw new Error(`invalid ulimit argument: ${v}`);
  const soft = Number(parts[0]);
  const hard = parts.length === 2 ? Number(parts[1]) : soft;
  if (soft > hard) throw new Error(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

/** The create body's Healthcheck from --health-* / --no-healthcheck (docker/cli parse()). */
function healthcheck(p: ParsedFlags): Record<string, unknown> | undefined {
  const v = p.values;
  const cmd = v['health-cmd'] as string;
  const ns = (k: string) => ((v[k] as string) ? duration(k, v[k] as string) : 0);
  const retries = v['health-retries'] as number;
  const have = cmd !== '' || ns('health-interval') !== 0 || ns('health-timeout') !== 0 || ns('health-start-period') !== 0 || retries !== 0;
  if (v['no-healthcheck']) {
    if (have) throw new Error('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!have) return undefined;
  if (retries < 0) throw new Error('--health-retries cannot be negative');
  return {
    ...(cmd ? { Test: ['CMD-SHELL', cmd] } : {}),
    Interval: ns('health-interval'), Timeout: ns('health-timeout'), StartPeriod: ns('health-start-period'), Retries: retries,
  };
}

/** --log-opt k=v pairs (a value without '=' is refused, as docker). */
function logOpts(items: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const i = it.indexOf('=');
    if (i <= 0) throw new Error(`invalid key-value pair for --log-opt: ${it}`);
    out[it.slice(0, i)] = it.slice(i + 1);
  }
  return out;
}

/** --cpus "1.5" -> 1500000000 (opts.NanoCPUs). */
export function nanoCpus(v: string): number {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v.trim());
  if (!m || (m[2] === '' && !m[3])) throw new Error(`failed to parse ${v} as a rational number`);
  const frac = m[3] ?? '';
  if (frac.replace(/0+$/, '').length > 9) throw new Error('value is too precise');
  const n = Number(m[2] || '0') * 1e9 + Number((frac + '000000000').slice(0, 9));
  return m[1] === '-' ? -n : n;
}

/** --restart "on-failure:3" -> {Name, MaximumRetryCount} (opts.ParseRestartPolicy). */
export function parseRestart(policy: string): { Name: string; MaximumRetryCount: number } {
  const i = policy.indexOf(':');
  const name = i < 0 ? policy : policy.slice(0, i);
  const count = i < 0 ? '' : policy.slice(i + 1);
  if (i >= 0 && name === '') throw new Error('invalid restart policy format: no policy provided before colon');
  if (count !== '' && !/^[+-]?\d+$/.test(count)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
  return { Name: name, MaximumRetryCount: count === '' ? 0 : Number(count) };
}

/** --mount "type=bind,src=/a,dst=/b,ro" -> mount.Mount (opts.MountOpt.Set). */
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  let source: string | undefined;
  let target: string | undefined;
  let readOnly: boolean | undefined;
  const bind: Record<string, unknown> = {};
  const vol: Record<string, unknown> = {};
  const tmpfs: Record<string, unknown> = {};
  const bool = (k: string, v: string | undefined): boolean => {
    if (v === undefined || /^(1|true|t)$/i.test(v)) return true;
    if (/^(0|false|f)$/i.test(v)) return false;
    throw new Error(`invalid value for ${k}: ${v}`);
  };
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const val = eq < 0 ? undefined : field.slice(eq + 1);
    if (val === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'].includes(key)) {
      throw new Error(`invalid field '${field}' must be a key=value pair`);
    }
    switch (key) {
      case 'type': m.Type = val; break;
      case 'source': case 'src': source = val; break;
      case 'target': case 'dst': case 'destination': target = val; break;
      case 'readonly': case 'ro': readOnly = bool(key, val); break;
      case 'consistency': m.Consistency = val; break;
      case 'bind-propagation': bind.Propagation = val; break;
      case 'bind-nonrecursive': bind.NonRecursive = bool(key, val); break;
      case 'volume-nocopy': vol.NoCopy = bool(key, val); break;
      case 'volume-driver': vol.DriverConfig = { Name: val }; break;
      case 'volume-label': {
        const [k, v = ''] = (val as string).split(/=(.*)/s);
        vol.Labels = { ...(vol.Labels as object), [k]: v };
        break;
      }
      case 'tmpfs-size': tmpfs.SizeBytes = ramInBytes(val as string); break;
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val as string)) throw new Error(`invalid value for ${key}: ${val}`);
        tmpfs.Mode = parseInt(val as string, 8);
        break;
      }
      default: throw new Error(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Type) throw new Error('type is required');
  if (!target) throw new Error('target is required');
  const out: Record<string, unknown> = { Type: m.Type };
  if (source) out.Source = source;
  out.Target = target;
  if (readOnly) out.ReadOnly = true;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (Object.keys(bind).length) {
    if (m.Type !== 'bind') throw new Error(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
    out.BindOptions = bind;
  }
  if (Object.keys(vol).length) {
    if (m.Type !== 'volume') throw new Error(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
    out.VolumeOptions = vol;
  }
  if (Object.keys(tmpfs).length) {
    if (m.Type !== 'tmpfs') throw new Error(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
    out.TmpfsOptions = tmpfs;
  }
  return out;
}

/** nat.ParsePortSpec for one -p value: [containerPort/proto, HostIp, HostPort] triples. */
export function parsePortSpec(raw: string): { port: string; binding: { HostIp: string; HostPort: string } }[] {
  const parts = raw.split(':');
  let ip = '';
  let hostPort = '';
  let containerPort: string;
  if (parts.length === 1) containerPort = parts[0];
  else if (parts.length === 2) [hostPort, containerPort] = parts;
  else {
    containerPort = parts[parts.length - 1];
    hostPort = parts[parts.length - 2];
    ip = parts.slice(0, -2).join(':');
  }
  const { ports, proto } = splitPortProto(containerPort);
  containerPort = ports;
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (ip && !isIP(ip)) throw new Error(`invalid IP address: ${ip}`);
  if (containerPort === '') throw new Error(`no port specified: ${raw}<empty>`);
  const cr = portRange(containerPort);
  if (!cr) throw new Error(`invalid containerPort: ${containerPort}`);
  let hr = { start: 0, end: 0 };
  if (hostPort !== '') {
    const r = portRange(hostPort);
    if (!r) throw new Error(`invalid hostPort: ${hostPort}`);
    hr = r;
    if (cr.end - cr.start !== hr.end - hr.start && cr.end !== cr.start) {
      throw new Error(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
  }
  if (!isProtocol(proto)) throw new Error(`invalid proto: ${proto}`);
  const keys = portKeys(cr, proto);
  return keys.map((port, i) => {
    let hp = '';
    if (hostPort !== '') {
      hp = String(hr.start + i);
      if (keys.length === 1 && hr.start !== hr.end) hp += `-${hr.end}`;
    }
    return { port, binding: { HostIp: ip, HostPort: hp } };
  });
}

/** opts.ParseEnvFile: KEY=VALUE lines; a bare KEY takes the value from `env` (dropped when unset). */
export function parseEnvFile(text: string, env?: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/^\uFEFF/, '').split('\n')) {
    const line = raw.replace(/^[ \t\r\v\f]+/, '').replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') throw new Error(`no variable name on line '${line}'`);
    if (/\s/.test(key)) throw new Error(`variable '${key}' contains whitespaces`);
    if (eq >= 0 || !env) out.push(line);
    else if (env[key] !== undefined) out.push(`${key}=${env[key]}`);
  }
  return out;
}

const emptyEndpoint = (): Record<string, unknown> => ({
  IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, GwPriority: 0, NetworkID: '',
  EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '',
  GlobalIPv6PrefixLen: 0, DNSNames: null,
});

export interface BuildContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** [rows, cols] of the terminal when stdout is one; used for ConsoleSize with -t. */
  consoleSize: [number, number];
  /** run -d: nothing is attached. */
  detach: boolean;
  readFile?: (path: string) => string;
}

/** Builds the create request from parsed run/create flags (throws Error with docker's wording on bad input). */
export function buildCreateRequest(p: ParsedFlags, ctx: BuildContext): CreateRequest {
  const v = p.values;
  const L = (k: string): string[] => v[k] as string[];
  const S = (k: string): string => v[k] as string;
  const readFile = ctx.readFile ?? ((f: string) => readFileSync(f, 'utf8'));
  const [image, ...cmd] = p.args;

  const attach = new Set(L('attach').map((s) => s.toLowerCase()));
  if (ctx.detach && attach.size) throw new Error('conflicting options: cannot specify both --attach and --detach');
  const attachStdin = !ctx.detach && (attach.has('stdin') || (v.interactive as boolean));
  const attachStdout = !ctx.detach && (attach.size === 0 || attach.has('stdout'));
  const attachStderr = !ctx.detach && (attach.size === 0 || attach.has('stderr'));

  const restart = parseRestart(S('restart'));
  if (v.rm && restart.Name !== '' && restart.Name !== 'no') throw new Error('conflicting options: cannot specify both --restart and --rm');

  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const spec of L('publish')) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  for (const e of L('expose')) {
    const { ports, proto } = splitPortProto(e);
    const r = portRange(ports);
    if (!r) throw new Error(`invalid range format for --expose: ${e}`);
    for (const k of portKeys(r, proto)) exposed[k] = {};
  }

  const envFiles = L('env-file').flatMap((f) => parseEnvFile(readFile(f), ctx.env));
  const env = [...envFiles, ...L('env').map((e) => (e.includes('=') || ctx.env[e] === undefined ? e : `${e}=${ctx.env[e]}`))];
  const labels = [...L('label-file').flatMap((f) => parseEnvFile(readFile(f))), ...L('label')];

  const binds: string[] = [];
  const volumes: Record<string, Record<string, never>> = {};
  for (const spec of L('volume')) {
    const colon = spec.indexOf(':');
    if (colon <= 0) { volumes[spec] = {}; continue; }
    let host = spec.slice(0, colon);
    if (host.startsWith('.')) host = resolvePath(ctx.cwd, host); // relative bind sources are made absolute
    binds.push(`${host}${spec.slice(colon)}`);
  }

  let entrypoint: string[] | null = null;
  if (S('entrypoint') !== '') entrypoint = [S('entrypoint')];
  else if (p.changed.has('entrypoint')) entrypoint = [''];

  const network = S('network');
  const tmpfs = Object.fromEntries(L('tmpfs').map((t) => {
    const i = t.indexOf(':');
    return i < 0 ? [t, ''] : [t.slice(0, i), t.slice(i + 1)];
  }));
  const mounts = L('mount').map(parseMount);
  const sysctls = keyValues(L('sysctl'));
  const health = healthcheck(p);

  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: '',
    LogConfig: { Type: S('log-driver'), Config: logOpts(L('log-opt')) },
    NetworkMode: network || 'default',
    PortBindings: bindings,
    RestartPolicy: restart,
    AutoRemove: v.rm,
    VolumeDriver: '',
    VolumesFrom: L('volumes-from').length ? L('volumes-from') : null,
    ConsoleSize: v.tty ? ctx.consoleSize : [0, 0],
    CapAdd: L('cap-add').length ? L('cap-add') : null,
    CapDrop: L('cap-drop').length ? L('cap-drop') : null,
    CgroupnsMode: '',
    Dns: L('dns'),
    DnsOptions: L('dns-option'),
    DnsSearch: L('dns-search'),
    ExtraHosts: L('add-host').length ? L('add-host').map(extraHost) : null,
    GroupAdd: L('group-add').length ? L('group-add') : null,
    IpcMode: '',
    Cgroup: '',
    Links: L('link').length ? L('link') : null,
    OomScoreAdj: v['oom-score-adj'],
    PidMode: '',
    Privileged: v.privileged,
    PublishAllPorts: v['publish-all'],
    ReadonlyRootfs: v['read-only'],
    SecurityOpt: L('security-opt').length ? L('security-opt') : null,
    ...(Object.keys(tmpfs).length ? { Tmpfs: tmpfs } : {}),
    UTSMode: '',
    UsernsMode: S('userns') ?? '',
    ShmSize: S('shm-size') ? ramInBytes(S('shm-size')) : 0,
    ...(Object.keys(sysctls).length ? { Sysctls: sysctls } : {}),
    ...(S('runtime') ? { Runtime: S('runtime') } : {}),
    Isolation: '',
    CpuShares: v['cpu-shares'],
    Memory: S('memory') ? ramInBytes(S('memory')) : 0,
    NanoCpus: S('cpus') ? nanoCpus(S('cpus')) : 0,
    CgroupParent: '',
    BlkioWeight: v['blkio-weight'],
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: v['cpu-period'],
    CpuQuota: v['cpu-quota'],
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: S('cpuset-cpus'),
    CpusetMems: S('cpuset-mems'),
    Devices: L('device').map(parseDevice),
    DeviceCgroupRules: L('device-cgroup-rule').length ? L('device-cgroup-rule') : null,
    DeviceRequests: null,
    ...(S('kernel-memory') ? { KernelMemory: ramInBytes(S('kernel-memory')) } : {}),
    MemoryReservation: S('memory-reservation') ? ramInBytes(S('memory-reservation')) : 0,
    MemorySwap: S('memory-swap') ? swapBytes(S('memory-swap')) : 0,
    MemorySwappiness: v['memory-swappiness'],
    OomKillDisable: v['oom-kill-disable'],
    PidsLimit: p.changed.has('pids-limit') ? v['pids-limit'] : null,
    Ulimits: L('ulimit').map(parseUlimit),
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    ...(mounts.length ? { Mounts: mounts } : {}),
    MaskedPaths: null,
    ReadonlyPaths: null,
    ...(p.changed.has('init') ? { Init: v.init } : {}),
  };

  const body: Record<string, unknown> = {
    Hostname: S('hostname'),
    Domainname: S('domainname'),
    User: S('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Tty: v.tty,
    OpenStdin: v.interactive,
    StdinOnce: attachStdin,
    Env: env.length ? env : null,
    Cmd: cmd.length ? cmd : null,
    ...(health ? { Healthcheck: health } : {}),
    Image: image,
    Volumes: volumes,
    WorkingDir: S('workdir'),
    Entrypoint: entrypoint,
    OnBuild: null,
    Labels: keyValues(labels),
    ...(S('stop-signal') ? { StopSignal: S('stop-signal') } : {}),
    ...(p.changed.has('stop-timeout') ? { StopTimeout: v['stop-timeout'] } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints(network, L('network-alias'), S('ip'), S('ip6'), S('mac-address'), L('link')) },
  };
  return { name: S('name') || undefined, platform: S('platform') || undefined, body };
}

/**
 * docker's EndpointsConfig: the default network's empty endpoint, or the named network's with aliases, --ip, --ip6,
 * --mac and the links (on a user-defined network a link is a name on that network).
 */
function endpoints(network: string, aliases: string[], ip: string, ip6: string, mac: string, links: string[]): Record<string, unknown> {
  const ep = emptyEndpoint();
  if (!network) {
    if (aliases.length || ip || ip6) throw new Error('network-scoped aliases and --ip are only supported for user-defined networks');
    return { default: { ...ep, MacAddress: mac } };
  }
  const userDefined = !['bridge', 'host', 'none', 'default'].includes(network) && !network.startsWith('container:');
  if (!aliases.length && !ip && !ip6 && !mac && !(userDefined && links.length)) return {};
  return {
    [network]: {
      ...ep, Aliases: aliases.length ? aliases : null, IPAMConfig: ipamConfig(ip, ip6), MacAddress: mac, Links: userDefined && links.length ? links : null,
    },
  };
}

/** docker's EndpointIPAMConfig from --ip and --ip6 (null when neither is given). */
export function ipamConfig(ip?: string, ip6?: string): { IPv4Address?: string; IPv6Address?: string } | null {
  return ip || ip6 ? { ...(ip ? { IPv4Address: ip } : {}), ...(ip6 ? { IPv6Address: ip6 } : {}) } : null;
}

/** --add-host accepts "host:ip" and "host=ip"; the API takes "host:ip". */
function extraHost(v: string): string {
  const eq = v.indexOf('=');
  const [name, ip] = eq >= 0 ? [v.slice(0, eq), v.slice(eq + 1)] : [v.slice(0, v.indexOf(':')), v.slice(v.indexOf(':') + 1)];
  if (!name || !ip || v.indexOf(':') === -1 && eq === -1) throw new Error(`bad format for add-host: ${JSON.stringify(v)}`);
  return `${name}:${ip.replace(/^\[(.*)\]$/, '$1')}`;
}
