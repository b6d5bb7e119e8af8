/** berthd's options (flags mirror dockerd's where they overlap). */
import { parseArgs } from 'node:util';
import type { Level, LogFormat } from '../common/log';
import { validateMirror } from '../registry/client/hosts';
import type { RuntimeName } from '../runtime/types';
import { logPolicy } from '../engine/containers/log-rotate';
import { parseRemapFlag } from '../engine/userns';
import { ramInBytes } from '../common/units';
import { DEFAULT_LIMITS, type DecompressionLimits } from '../store/compression';

export interface DaemonConfig {
  dataRoot: string;
  execRoot: string;
  hosts: string[];
  defaultRuntime: RuntimeName;
  logLevel: Level;
  /** Linux bridge and subnet of the default `bridge` network; prefix of other Berth bridges and netns names. */
  bridge: string;
  bridgeSubnet: string;
  bridgePrefix: string;
  /** Registries reached over plain HTTP / unverified TLS (host[:port] or CIDR); loopback always is. */
  insecureRegistries: string[];
  registriesLoopbackOnly: boolean;
  /** docker.io mirrors, tried first on pulls. */
  registryMirrors: string[];
  /** Default `--log-opt`s of json-file container logs (max-size, max-file). */
  logOpts: Record<string, string>;
  /** `--userns-remap`: `default` or USER[:GROUP]; unset runs containers in the host's user namespace. */
  usernsRemap?: string;
  /** What a pulled, loaded or imported layer may decompress to. */
  layerLimits: DecompressionLimits;
  /** `--seccomp-profile`: the default seccomp profile (JSON, docker's format). */
  seccompProfile?: string;
  /** `--allow-insecure-entitlement`: what builds may ask for (BuildKit's entitlements; `security.insecure`). */
  allowedEntitlements: string[];
  /** TCP listeners: `--tls` (true: TLS; false: plain, loopback only; unset: refused), `--tlsverify` and the PEM files. */
  tls: TlsConfig;
  /** `--group`: owner group of the unix sockets; undefined: `berth` when it exists. */
  group?: string;
  logFormat: LogFormat;
  /** `--log-file`: a rotating file instead of stderr (the CLI starts berthd so); stderr when unset (a service). */
  logFile?: string;
}

export interface TlsConfig {
  /** undefined when neither --tls nor --tlsverify was given. */
  enabled?: boolean;
  /** Mutual TLS: clients must present a certificate signed by `caCert`. */
  verify: boolean;
  caCert: string;
  cert: string;
  key: string;
}

/** dockerd's /etc/docker/{ca,cert,key}.pem; $DOCKER_CERT_PATH wins, as for dockerd. */
export const TLS_DIR = process.env.DOCKER_CERT_PATH || '/etc/berth';

export const USAGE = `Usage: berthd [OPTIONS]

The Berth container engine daemon: serves the Docker Engine API.

Options:
      --data-root string        Root directory of persistent state (default "/var/lib/berth")
      --exec-root string        Root directory of runtime state: sockets, conmon, runtime (default "/run/berth")
  -H, --host list               Daemon socket to listen on (default unix:///run/berth/berth.sock);
                                tcp://HOST:PORT listens on TCP: needs --tls or --tlsverify (port 2376),
                                or --tls=false on a loopback address (port 2375)
      --tls                     Serve TCP hosts over TLS; implied by --tlsverify (--tls=false: plain, loopback only)
      --tlsverify               Use TLS and require client certificates signed by --tlscacert
                                fd:// takes the sockets systemd passes (socket activation; fd://NAME: by name)
      --tlscacert string        Trust certs signed only by this CA (default "$DOCKER_CERT_PATH/ca.pem",
                                without DOCKER_CERT_PATH "/etc/berth/ca.pem")
      --tlscert string          Path to TLS certificate file (default "$DOCKER_CERT_PATH/cert.pem" or "/etc/berth/cert.pem")
      --tlskey string           Path to TLS key file (default "$DOCKER_CERT_PATH/key.pem" or "/etc/berth/key.pem")
  -G, --group string            Group for the unix sockets (default "berth" when that group exists, else root only);
                                its members have root on this host
      --log-format string       Log format: text or json (default "text")
      --log-file string         Log to this file, rotated at 10 MB, 5 kept (default: stderr, for the journal)
      --default-runtime string  OCI runtime for containers: crun or runc (default "crun")
  -l, --log-level string        debug, info, warn or error (default "info")
      --bridge string           Linux bridge of the default network (default "berth0")
      --bip string              Subnet of the default network (default "10.209.0.0/16"; Docker's is 172.17.0.0/16)
      --bridge-prefix string    Prefix of Berth's other bridges and network namespaces (default "berth")
      --insecure-registry list  Registry (host[:port] or CIDR) reached without TLS checks, falling back to plain HTTP
                                (loopback registries always are)
      --registries-loopback-only Never contact a registry that is not on loopback (tests, air-gapped hosts)
      --registry-mirror list    Preferred Docker Hub mirror (e.g. https://mirror.example.com), tried before docker.io
      --log-opt map             Default log driver options for containers (max-size=10m, max-file=3)
      --userns-remap string     User/Group setting for user namespaces: default (user berthremap) or USER[:GROUP]
      --max-layer-size string   Most bytes a layer (or a compressed load archive) may decompress to (default "64g")
      --max-layer-ratio int     Most decompressed bytes per compressed byte of a layer (default 1000)
      --seccomp-profile string  Path to the default seccomp profile (containers do not start if it cannot be loaded)
      --allow-insecure-entitlement list  Build entitlement allowed: security.insecure (RUN --security=insecure)
  -v, --version                 Print version information and quit
  -h, --help                    Print this help
`;

const ENTITLEMENTS = ['security.insecure'];

function entitlements(list: string[]): string[] {
  for (const e of list) {
    if (!ENTITLEMENTS.includes(e)) throw new Error(`invalid --allow-insecure-entitlement ${JSON.stringify(e)}: use ${ENTITLEMENTS.join(' or ')}`);
  }
  return list;
}

/** `roots`: the defaults of --data-root and --exec-root (a rootless daemon's are under the user's XDG dirs). */
export function parseDaemonArgs(argv: string[], roots = { dataRoot: '/var/lib/berth', execRoot: '/run/berth' }): DaemonConfig | 'help' | 'version' {
  const tls = goBool(argv, 'tls');
  const tlsVerify = goBool(tls.rest, 'tlsverify');
  const { values } = parseArgs({
    args: tlsVerify.rest,
    options: {
      'data-root': { type: 'string', default: roots.dataRoot },
      'exec-root': { type: 'string', default: roots.execRoot },
      host: { type: 'string', short: 'H', multiple: true },
      'default-runtime': { type: 'string', default: 'crun' },
      'log-level': { type: 'string', short: 'l', default: 'info' },
      'log-format': { type: 'string', default: 'text' },
      'log-file': { type: 'string' },
      group: { type: 'string', short: 'G' },
      bridge: { type: 'string', default: 'berth0' },
      bip: { type: 'string', default: '10.209.0.0/16' },
      'bridge-prefix': { type: 'string', default: 'berth' },
      'insecure-registry': { type: 'string', multiple: true },
      'registry-mirror': { type: 'string', multiple: true },
      'registries-loopback-only': { type: 'boolean' },
      'log-opt': { type: 'string', multiple: true },
      'userns-remap': { type: 'string' },
      'max-layer-size': { type: 'string' },
      'max-layer-ratio': { type: 'string' },
      'seccomp-profile': { type: 'string' },
      'allow-insecure-entitlement': { type: 'string', multiple: true },
      tlscacert: { type: 'string', default: `${TLS_DIR}/ca.pem` },
      tlscert: { type: 'string', default: `${TLS_DIR}/cert.pem` },
      tlskey: { type: 'string', default: `${TLS_DIR}/key.pem` },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (values.version) return 'version';
  const runtime = values['default-runtime'];
  if (runtime !== 'crun' && runtime !== 'runc') throw new Error(`invalid --default-runtime "${runtime}": crun or runc`);
  const level = values['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(level!)) throw new Error(`invalid --log-level "${level}"`);
  const logFormat = values['log-format'];
  if (logFormat !== 'text' && logFormat !== 'json') throw new Error(`invalid --log-format "${logFormat}": text or json`);
  const execRoot = values['exec-root']!;
  return {
    dataRoot: values['data-root']!,
    execRoot,
    hosts: values.host?.length ? values.host : [`unix://${execRoot}/berth.sock`],
    defaultRuntime: runtime,
    logLevel: level as Level,
    bridge: values.bridge!,
    bridgeSubnet: values.bip!,
    bridgePrefix: values['bridge-prefix']!,
    insecureRegistries: values['insecure-registry'] ?? [],
    registriesLoopbackOnly: values['registries-loopback-only'] === true,
    registryMirrors: (values['registry-mirror'] ?? []).map(validateMirror),
    logOpts: logOpts(values['log-opt'] ?? []),
    layerLimits: layerLimits(values['max-layer-size'], values['max-layer-ratio']),
    allowedEntitlements: entitlements(values['allow-insecure-entitlement'] ?? []),
    ...(values['userns-remap'] !== undefined ? { usernsRemap: usernsRemap(values['userns-remap']) } : {}),
    ...(values['seccomp-profile'] !== undefined ? { seccompProfile: values['seccomp-profile'] } : {}),
    ...(values.group !== undefined ? { group: values.group } : {}),
    logFormat,
    ...(values['log-file'] !== undefined ? { logFile: values['log-file'] } : {}),
    tls: {
      enabled: tlsVerify.value ? true : tls.value,
      verify: tlsVerify.value === true,
      caCert: values.tlscacert!,
      cert: values.tlscert!,
      key: values.tlskey!,
    },
  };
}

function layerLimits(size: string | undefined, ratio: string | undefined): DecompressionLimits {
  let maxSize = DEFAULT_LIMITS.maxSize;
  try {
    if (size !== undefined) maxSize = ramInBytes(size);
  } catch {
    maxSize = 0;
  }
  if (!(maxSize > 0)) throw new Error(`invalid --max-layer-size "${size}": a size such as 20g`);
  const maxRatio = ratio === undefined ? DEFAULT_LIMITS.maxRatio : Number(ratio);
  if (!Number.isInteger(maxRatio) || maxRatio < 1) throw new Error(`invalid --max-layer-ratio "${ratio}": a whole number of at least 1`);
  return { maxSize, maxRatio };
}

/**
 * A Go boolean flag (`--tls`, `--tls=true`, `--tls=false`; node's parseArgs takes no value for booleans): its value
 * (undefined when absent, the last one wins) and the other arguments.
 */
function goBool(argv: string[], name: string): { value?: boolean; rest: string[] } {
  let value: boolean | undefined;
  const rest: string[] = [];
  for (const [i, a] of argv.entries()) {
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const m = new RegExp(`^--${name}(?:=(.*))?$`).exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    if (m[1] === undefined || ['true', '1'].includes(m[1])) value = true;
    else if (['false', '0'].includes(m[1])) value = false;
    else throw new Error(`invalid boolean value "${m[1]}" for --${name}`);
  }
  return { value, rest };
}

function usernsRemap(value: string): string {
  parseRemapFlag(value); // a bad value stops the daemon before anything is made
  return value;
}

/** Default json-file options, checked as a container's would be so that a bad one stops the daemon, as dockerd. */
function logOpts(items: string[]): Record<string, string> {
  const opts = Object.fromEntries(items.map(keyValue));
  try {
    logPolicy({ Config: opts });
  } catch (e) {
    throw new Error(`invalid --log-opt: ${(e as Error).message}`);
  }
  return opts;
}

function keyValue(kv: string): [string, string] {
  const i = kv.indexOf('=');
  if (i <= 0) throw new Error(`invalid --log-opt "${kv}": expected key=value`);
  return [kv.slice(0, i), kv.slice(i + 1)];
}
