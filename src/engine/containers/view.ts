/** Docker's JSON views of a container: inspect, list entries, list filters, the human Status column. */
import { humanDuration } from '../../common/units';
import type { DockerNetworkSettings } from '../../network/views';
import type { DockerListPort } from '../../network/ports';
import { checkFilterKeys, labelMatches, type Filters } from '../../common/filters';
import { badRequest } from '../../common/errors';
import { portKeys, portRange, splitPortProto } from '../../common/ports';
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
    EndpointID: s?.EndpointID ?? '', Gateway: s?.Gateway ?? '', GlobalIPv6Address: s?.GlobalIPv6Address ?? '',
    GlobalIPv6PrefixLen: s?.GlobalIPv6PrefixLen ?? 0, IPAddress: s?.IPAddress ?? '', IPPrefixLen: s?.IPPrefixLen ?? 0,
    IPv6Gateway: s?.IPv6Gateway ?? '', MacAddress: s?.MacAddress ?? '',
    // an endpoint's Links are the container's (EndpointsConfig: run --link on a user network, connect --link)
    Networks: s ? Object.fromEntries(Object.entries(s.Networks).map(([n, ep]) => [n, { ...ep, Links: rec.EndpointsConfig?.[n]?.Links ?? null }]))
      : mode.startsWith('container:') ? {} : Object.fromEntries(wantedNetworks(rec, mode).map((n) => [n, empty])),
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

/** What the network, volume and port filters of a list read of one container. */
export function listFacts(rec: ContainerRecord, net: NetView, mounts: ListFacts['mounts']): ListFacts {
  return { networks: (networkSettings(rec, net) as { Networks: ListFacts['networks'] }).Networks, ports: net.ports, mounts };
}

/** `linkNames`: the names other containers' links give this one ("/parent/alias"), listed after its own as docker does. */
export function listView(rec: ContainerRecord, net: NetView, mounts: object[], linkNames: string[] = []): Record<string, unknown> {
  const mode = rec.HostConfig.NetworkMode ?? 'default';
  return {
    Id: rec.Id,
    Names: [rec.Name, ...linkNames].sort(), // docker lists them in name order
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

/** What a list filter looks up beyond the record. */
export interface FilterLookups {
  resolveImage(ref: string): string | undefined;
  /** `before`/`since`: the container named (docker's 404 when there is none). */
  container(ref: string): ContainerRecord;
}

/** Per-container facts the network, volume and port filters read (the list view's own). */
export interface ListFacts {
  networks: Record<string, { NetworkID?: string }>;
  ports: DockerListPort[];
  mounts: { Name?: string; Source: string; Destination: string }[];
}

export interface ContainerMatcher {
  /** A `status` filter lists stopped containers without `all`, as docker's. */
  all: boolean;
  /** `facts` is asked for only when a network, volume, publish or expose filter is given. */
  match(rec: ContainerRecord, facts?: () => ListFacts): boolean;
}

/** Docker's `ps --filter` semantics (daemon/list.go): values of one key are OR-ed, keys are AND-ed. */
export function containerFilter(filters: Filters, lookups: FilterLookups): ContainerMatcher {
  checkFilterKeys(filters, FILTER_KEYS);
  for (const s of filters.status ?? []) {
    if (!STATUSES.includes(s)) throw badRequest(`invalid filter 'status=${s}'`);
  }
  for (const h of filters.health ?? []) {
    if (!HEALTH.includes(h)) throw badRequest(`unrecognized filter value for health: ${h}`);
  }
  const exited = (filters.exited ?? []).map((v) => {
    if (!/^[+-]?\d+$/.test(v)) throw badRequest(`invalid filter 'exited=${v}': strconv.Atoi: parsing "${v}": invalid syntax`);
    return Number(v);
  });
  const isTask = boolFilter(filters, 'is-task');
  const createdOf = (key: string) => (filters[key] ?? []).map((ref) => Date.parse(lookups.container(ref).Created));
  const [before, since] = [createdOf('before'), createdOf('since')];
  const publish = portSet(filters, 'publish');
  const expose = portSet(filters, 'expose');
  const ancestors = (filters.ancestor ?? []).map((a) => lookups.resolveImage(a) ?? `missing:${a}`);
  const match = (rec: ContainerRecord, facts: () => ListFacts = () => ({ networks: {}, ports: [], mounts: [] })): boolean => {
    const any = (key: string, pred: (v: string) => boolean) => !filters[key]?.length || filters[key].some(pred);
    const labels = rec.Config.Labels ?? {};
    const created = Date.parse(rec.Created);
    if (
      !(
        any('id', (v) => rec.Id.startsWith(v)) &&
        any('name', (v) => new RegExp(v).test(rec.Name.slice(1))) &&
        any('status', (v) => v === rec.State.Status) &&
        (!exited.length || (!rec.State.Running && Date.parse(rec.State.StartedAt) > 0 && exited.includes(rec.State.ExitCode))) &&
        any('health', (v) => (rec.State.Health?.Status ?? 'none') === v) &&
        // several label filters are ANDed (docker's MatchKVList): compose filters by project and service
        (filters.label ?? []).every((v) => labelMatches(labels, v)) &&
        (!filters.ancestor?.length || ancestors.includes(rec.Image)) &&
        before.every((t) => created < t) &&
        since.every((t) => created > t) &&
        // no container of Berth's is a swarm task
        (isTask === undefined || isTask === false)
      )
    ) {
      return false;
    }
    if (!filters.network?.length && !filters.volume?.length && !publish.size && !expose.size) return true;
    const f = facts();
    return (
      any('network', (v) => v in f.networks || Object.values(f.networks).some((n) => !!n.NetworkID?.startsWith(v))) &&
      any('volume', (v) => f.mounts.some((m) => m.Destination === v || (m.Name || m.Source) === v)) &&
      (!publish.size && !expose.size ||
        f.ports.some((p) => (p.PublicPort !== undefined && publish.has(`${p.PublicPort}/${p.Type}`)) || expose.has(`${p.PrivatePort}/${p.Type}`)))
    );
  };
  return { all: !!filters.status?.length, match };
}

/** A boolean filter as docker's GetBoolOrDefault reads it ("true"/"1", "false"/"0"); undefined when absent. */
function boolFilter(filters: Filters, key: string): boolean | undefined {
  const values = filters[key];
  if (!values?.length) return undefined;
  const v = values[0];
  if (v.toLowerCase() === 'true' || v === '1') return true;
  if (v.toLowerCase() === 'false' || v === '0') return false;
  throw badRequest(`invalid filter '${key}=${v}'`);
}

/** `publish`/`expose` values: `port[/proto]` or `start-end[/proto]`, as `port/proto` keys. */
function portSet(filters: Filters, key: string): Set<string> {
  const out = new Set<string>();
  for (const value of filters[key] ?? []) {
    if (value.includes(':')) throw badRequest(`filter for '${key}' should not contain ':': ${value}`);
    const { ports, proto } = splitPortProto(value);
    const r = portRange(ports, 1);
    if (!r) throw badRequest(`error while looking up for ${key} ${value}: invalid range specified for port: ${ports}`);
    for (const k of portKeys(r, proto)) out.add(k);
  }
  return out;
}
