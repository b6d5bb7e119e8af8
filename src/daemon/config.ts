/** berthd's options (flags mirror dockerd's where they overlap). */
import { parseArgs } from 'node:util';
import type { Level } from '../common/log';
import { validateMirror } from '../registry/client/hosts';
import type { RuntimeName } from '../runtime/types';
import { logPolicy } from '../engine/containers/log-rotate';
import { parseRemapFlag } from '../engine/userns';

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
}

export const USAGE = `Usage: berthd [OPTIONS]

The Berth container engine daemon: serves the Docker Engine API.

Options:
      --data-root string        Root directory of persistent state (default "/var/lib/berth")
      --exec-root string        Root directory of runtime state: sockets, conmon, runtime (default "/run/berth")
  -H, --host list               Daemon socket to listen on (default unix:///run/berth/berth.sock);
                                tcp://HOST:PORT listens on TCP (off by default; no TLS, use loopback only)
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
  -v, --version                 Print version information and quit
  -h, --help                    Print this help
`;

export function parseDaemonArgs(argv: string[]): DaemonConfig | 'help' | 'version' {
  const { values } = parseArgs({
    args: argv,
    options: {
      'data-root': { type: 'string', default: '/var/lib/berth' },
      'exec-root': { type: 'string', default: '/run/berth' },
      host: { type: 'string', short: 'H', multiple: true },
      'default-runtime': { type: 'string', default: 'crun' },
      'log-level': { type: 'string', short: 'l', default: 'info' },
      bridge: { type: 'string', default: 'berth0' },
      bip: { type: 'string', default: '10.209.0.0/16' },
      'bridge-prefix': { type: 'string', default: 'berth' },
      'insecure-registry': { type: 'string', multiple: true },
      'registry-mirror': { type: 'string', multiple: true },
      'registries-loopback-only': { type: 'boolean' },
      'log-opt': { type: 'string', multiple: true },
      'userns-remap': { type: 'string' },
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
    ...(values['userns-remap'] !== undefined ? { usernsRemap: usernsRemap(values['userns-remap']) } : {}),
  };
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
