/** Docker's JSON views of a container: inspect, list entries, list filters, the human Status column. */
import { humanDuration } from '../../common/units';
import type { DockerNetworkSettings } from '../../network/service';
import type { DockerListPort } from '../../network/ports';
import type { Filters } from '../../api/http';
import { badRequest } from '../../common/errors';
import type { ContainerPaths, ContainerRecord } from './record';

/** What the network service knows of a running container (undefined when it has no endpoint). */
export interface NetView {
  settings?: DockerNetworkSettings;
  ports: DockerListPort[];
}

export function inspectView(rec: ContainerRecord, p: ContainerPaths, execIds: string[], net: NetView, mounts: object[]): Record<string, unknown> {
  return {
    Id: rec.Id,
    Created: rec.Created,
    Path: rec.Path,
    Args: rec.Args,
    State: rec.State,
    Image: rec.Image,
    ResolvConfPath: p.resolvConf,
    HostnamePath: p.hostname,
    HostsPath: p.hosts,
    LogPath: p.log,
    Name: rec.Name,
    RestartCount: rec.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: rec.HostConfig,
    GraphDriver: {
      Name: 'overlay2',
      Data: { MergedDir: p.rootfs, UpperDir: p.upper, WorkDir: p.work },
    },
    Mounts: mounts,
    Config: rec.Config,
    NetworkSettings: networkSettings(rec, net),
  };
}

/** docker's NetworkSettings: the endpoint's when the container runs on a network, an empty shape otherwise. */
function networkSettings(rec: ContainerRecord, net: NetView): object {
  const mode = rec.HostConfig.NetworkMode === 'default' ? 'bridge' : (rec.HostConfig.NetworkMode ?? 'bridge');
  const s = net.settings;
  const empty = {
    IPAMConfig: null, Links: null, Aliases: null, MacAddress: '', DriverOpts: null, NetworkID: '', EndpointID: '', Gateway: '',
    IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  };
  return {
    Bridge: '', SandboxID: '', HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
    Ports: s?.Ports ?? {}, SandboxKey: s?.SandboxKey ?? '', SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: '', Gateway: s?.Gateway ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, IPAddress: s?.IPAddress ?? '',
    IPPrefixLen: s?.IPPrefixLen ?? 0, IPv6Gateway: '', MacAddress: s?.MacAddress ?? '',
    Networks: s?.Networks ?? (mode.startsWith('container:') ? {} : Object.fromEntries(wantedNetworks(rec, mode).map((n) => [n, empty]))),
  };
}

/** A stopped container's networks: those connect/disconnect left in EndpointsConfig, else NetworkMode's. */
function wantedNetworks(rec: ContainerRecord, mode: string): string[] {
  const keys = Object.keys(rec.EndpointsConfig ?? {}).map((k) => (k === 'default' ? 'bridge' : k));
  return keys.length ? keys : [mode];
}

/** The STATUS column: "Up 5 seconds", "Up 2 minutes (Paused)", "Exited (0) 3 seconds ago", "Created". */
export function statusText(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.State;
  if (s.Running) {
    if (s.Restarting) return `Restarting (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
    const up = `Up ${humanDuration(now - Date.parse(s.StartedAt))}`;
    if (s.Paused) return `${up} (Paused)`;
    if (s.Health) return `${up} (${s.Health.Status === 'starting' ? 'health: starting' : s.Health.Status})`;
    return up;
  }
  if (s.Status === 'removing') return 'Removal In Progress';
  if (s.Status === 'exited') return `Exited (${s.ExitCode}) ${humanDuration(now - Date.parse(s.FinishedAt))} ago`;
  return 'Created';
}

export function listView(rec: ContainerRecord, net: NetView, mounts: object[]): Record<string, unknown> {
  const mode = rec.HostConfig.NetworkMode ?? 'default';
  return {
    Id: rec.Id,
    Names: [rec.Name],
    Image: rec.Config.Image,
    ImageID: rec.Image,
    Command: [rec.Path, ...rec.Args].map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' '),
    Created: Math.floor(Date.parse(rec.Created) / 1000),
    Ports: net.ports,
    Labels: rec.Config.Labels ?? {},
    State: rec.State.Status,
    Status: statusText(rec),
    HostConfig: { NetworkMode: mode },
    NetworkSettings: { Networks: (networkSettings(rec, net) as { Networks: object }).Networks },
    Mounts: mounts,
  };
}

const FILTER_KEYS = new Set(['id', 'name', 'label', 'status', 'ancestor', 'exited', 'before', 'since', 'isolation', 'network', 'volume', 'health', 'publish', 'expose', 'is-task']);
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** Docker's `ps --filter` semantics: values of one key are OR-ed, keys are AND-ed. */
export function containerFilter(filters: Filters, resolveImage: (ref: string) => string | undefined) {
  for (const k of Object.keys(filters)) if (!FILTER_KEYS.has(k)) throw badRequest(`invalid filter '${k}'`);
  for (const s of filters.status ?? []) {
    if (!STATUSES.includes(s)) throw badRequest(`invalid filter 'status=${s}'`);
  }
  for (const h of filters.health ?? []) {
    if (!HEALTH.includes(h)) throw badRequest(`Unrecognised filter value for health: ${h}`);
  }
  const ancestors = (filters.ancestor ?? []).map((a) => resolveImage(a) ?? `missing:${a}`);
  return (rec: ContainerRecord): boolean => {
    const any = (key: string, pred: (v: string) => boolean) => !filters[key]?.length || filters[key].some(pred);
    const labels = rec.Config.Labels ?? {};
    return (
      any('id', (v) => rec.Id.startsWith(v)) &&
      any('name', (v) => new RegExp(v).test(rec.Name.slice(1))) &&
      any('status', (v) => v === rec.State.Status) &&
      any('exited', (v) => rec.State.Status === 'exited' && String(rec.State.ExitCode) === v) &&
      any('health', (v) => (rec.State.Health?.Status ?? 'none') === v) &&
      any('label', (v) => {
        const i = v.indexOf('=');
        return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
      }) &&
      (!filters.ancestor?.length || ancestors.includes(rec.Image))
    );
  };
}
