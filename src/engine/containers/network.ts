/**
 * A container's network at start and exit: which namespace it gets (`--network none|host|container:X|NAME`), the
 * endpoint on a Berth network (veth, address, published ports, DNS, through the network service), and the contents of
 * its /etc/hosts and /etc/resolv.conf.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ApiError, badRequest, conflict } from '../../common/errors';
import { editHosts, type HostsChange } from '../../network/dnsfiles';
import { endpointAddresses } from '../../network/store';
import { parseIp } from '../../network/ipam';
import type { NetworkService } from '../../network/service';
import type { NetworkNs } from '../../spec/spec';
import { linkGrant, notRunning, parseLink, storedLink, type LinkGrant } from './links';
import type { ContainerSpec } from './normalize';
import type { ContainerRecord, ContainerStore } from './record';

export interface ContainerNet {
  ns: NetworkNs;
  hostname: string;
  hosts: string;
  resolvConf: string;
  /** Variables of legacy links (default bridge only), before the container's own. */
  linkEnv: string[];
}

export interface EndpointRequest {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  /** on a user-defined network: "child:alias" names that resolve in this container only */
  Links?: string[] | null;
}

/** What connect/disconnect did, for the network event. */
export interface NetworkChange { containerId: string; networkId: string; networkName: string }

const dnsOverrides = (hc: ContainerRecord['HostConfig']) => ({ dns: hc.Dns ?? undefined, dnsSearch: hc.DnsSearch ?? undefined, dnsOptions: hc.DnsOptions ?? undefined });

export class ContainerNetworking {
  constructor(
    private readonly networks: NetworkService,
    private readonly store: ContainerStore,
  ) {}

  /** Refuse at create what start could not do (docker: 404 for an unknown network, 400 for a malformed --ip/--ip6). */
  validate(spec: ContainerSpec, endpoints?: ContainerRecord['EndpointsConfig']): void {
    for (const ep of Object.values(endpoints ?? {})) {
      const { IPv4Address: v4, IPv6Address: v6 } = ep?.IPAMConfig ?? {};
      if (v4 && parseIp(v4) === undefined) throw badRequest(`invalid IPv4 address: ${v4}`);
      if (v6 && parseIp(v6, 6) === undefined) throw badRequest(`invalid IPv6 address: ${v6}`);
    }
    const m = spec.network;
    if (m.kind === 'network') this.networks.inspect(m.name);
    if (m.kind === 'container') this.store.get(m.ref);
    if (m.kind !== 'network' && spec.ports.bindings.length && m.kind !== 'none') {
      // docker ignores -p with --network host and refuses it with container: networking
      if (m.kind === 'container') throw badRequest('conflicting options: port publishing and the container type network mode');
    }
  }

  async setup(rec: ContainerRecord, endpoints: Record<string, EndpointRequest> | null | undefined): Promise<ContainerNet> {
    const hc = rec.HostConfig;
    const m = rec.Spec.network;
    const dns = dnsOverrides(hc);
    if (m.kind === 'container') {
      const other = this.store.get(m.ref);
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.Id}`);
      return {
        ns: { mode: 'path', path: `/proc/${other.State.Pid}/ns/net` },
        hostname: other.Config.Hostname,
        hosts: this.networks.hostsFile(other.Id, other.Config.Hostname, rec.Spec.extraHosts),
        resolvConf: this.networks.resolvConf(other.Id, dns),
        linkEnv: [],
      };
    }
    let ns: NetworkNs = m.kind === 'host' ? { mode: 'host' } : { mode: 'none' };
    const hostname = m.kind === 'host' ? os.hostname() : rec.Config.Hostname;
    if (m.kind === 'network') {
      const path = await this.networks.createNamespace(rec.Id);
      ns = { mode: 'path', path };
      // The first network publishes the ports; later ones (network connect while stopped) only add an interface.
      for (const [i, [network, ep]] of this.wanted(m.name, endpoints).entries()) {
        await this.networks.attachContainer(rec.Id, rec.Name.slice(1), path, {
          network,
          aliases: ep.Aliases ?? undefined,
          ip: ep.IPAMConfig?.IPv4Address || undefined,
          ip6: ep.IPAMConfig?.IPv6Address || undefined,
          mac: ep.MacAddress || (i === 0 ? rec.Config.MacAddress : undefined) || undefined,
          ...(i === 0 ? { ports: rec.Spec.ports, exposedPorts: rec.Config.ExposedPorts } : {}),
        });
      }
    } else if (m.kind === 'host') {
      await this.networks.attachContainer(rec.Id, rec.Name.slice(1), '', { network: 'host' });
    }
    const links = m.kind === 'network' ? this.links(rec) : [];
    return {
      ns,
      hostname,
      hosts: this.networks.hostsFile(rec.Id, hostname, [...rec.Spec.extraHosts, ...links.map((l) => l.host)]),
      resolvConf: this.networks.resolvConf(rec.Id, dns),
      linkEnv: links.flatMap((l) => l.env),
    };
  }

  /**
   * What the container's links give it, through the first network it shares with each child. As docker: a legacy link
   * (HostConfig.Links) on the default bridge needs its child running and sets variables; elsewhere a link is a name only
   * (EndpointsConfig Links: `run --link` on a user network, `network connect --link`), and a child that is gone or on
   * no shared network gives nothing.
   */
  private links(rec: ContainerRecord, connected?: string[]): LinkGrant[] {
    const own = this.networks.networkSettings(rec.Id)?.Networks ?? {};
    // `connected`: only the links a network connect brings (the others are in the container's files already)
    const legacy = connected ? [] : (rec.HostConfig.Links ?? []).map((l) => ({ link: storedLink(l), legacy: true }));
    const scoped = (connected ?? Object.values(rec.EndpointsConfig ?? {}).flatMap((ep) => ep.Links ?? [])).map((l) => ({ link: storedLink(l), legacy: false }));
    return [...legacy, ...scoped].flatMap(({ link, legacy: isLegacy }) => {
      const child = this.store.find(link.child);
      if (!child) return [];
      const onBridge = isLegacy && 'bridge' in own;
      if (!child.State.Running) {
        if (onBridge) throw notRunning(rec, link, child);
        return [];
      }
      const theirs = this.networks.networkSettings(child.Id)?.Networks ?? {};
      if (onBridge && !theirs.bridge?.IPAddress) throw conflict(`Cannot link to ${child.Name}, as it does not belong to the default network`);
      const shared = onBridge ? 'bridge' : Object.keys(own).find((n) => theirs[n]?.IPAddress);
      return shared ? [linkGrant(rec, link, child, theirs[shared].IPAddress, onBridge)] : [];
    });
  }

  /**
   * The networks to join at start, the NetworkMode one first: EndpointsConfig lists them all once connect or
   * disconnect has edited it (or the client sent several); without entries, NetworkMode's network alone.
   */
  private wanted(primary: string, endpoints: Record<string, EndpointRequest> | null | undefined): [string, EndpointRequest][] {
    const entries = Object.entries(endpoints ?? {});
    if (!entries.length) return [[primary, {}]];
    const primaryId = this.networkId(primary);
    const first = entries.filter(([k]) => this.networkId(k) === primaryId);
    return [...first, ...entries.filter(([k]) => this.networkId(k) !== primaryId)];
  }

  /** A network's id, undefined when it no longer exists. */
  private networkId(ref: string): string | undefined {
    try {
      return this.networks.network(ref).id;
    } catch {
      return undefined;
    }
  }

  /** EndpointsConfig as the full list of the container's networks (NetworkMode's alone when empty). */
  private endpointsOf(rec: ContainerRecord, primary: string): Record<string, EndpointRequest> {
    const ec = rec.EndpointsConfig ?? {};
    return Object.keys(ec).length ? { ...ec } : { [primary]: {} };
  }

  /** docker network connect: join now when running (next free ethN), and be on that network at every start; undefined when nothing changed. */
  async connect(ref: string, network: string, ep: EndpointRequest = {}): Promise<NetworkChange | undefined> {
    const rec = this.store.get(ref);
    const m = this.connectableMode(rec);
    const net = this.networks.network(network);
    if (net.driver === 'host') throw badRequest('container cannot be disconnected from host network or connected to host network');
    if (net.driver === 'null') throw badRequest('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    // docker's updateNetworkSettings: a container not running that is already on the network keeps its config
    // ("avoid duplicate config"); compose 1.29 connects again a container it created with NetworkingConfig. The
    // NetworkMode network that only stands in for an empty list (after a disconnect) is joined with the new config.
    if (!rec.Instance && Object.keys(rec.EndpointsConfig ?? {}).some((k) => this.networkId(k) === net.id)) return undefined;
    const ec = Object.fromEntries(Object.entries(this.endpointsOf(rec, m)).filter(([k]) => rec.Instance || this.networkId(k) !== net.id));
    const links = ep.Links?.length ? ep.Links : undefined;
    links?.forEach(parseLink); // docker's buildJoinOptions: a malformed link fails the connect
    if (rec.Instance) {
      const info = await this.networks.attachContainer(rec.Id, rec.Name.slice(1), this.networks.namespacePath(rec.Id), {
        network: net.id, aliases: ep.Aliases ?? undefined, ip: ep.IPAMConfig?.IPv4Address || undefined,
        ip6: ep.IPAMConfig?.IPv6Address || undefined, mac: ep.MacAddress || undefined,
      });
      this.refreshEtc(rec, { add: endpointAddresses(info), extraHosts: links ? this.links(rec, links).map((l) => l.host) : [] });
    }
    rec.EndpointsConfig = {
      ...ec,
      [net.name]: { Aliases: ep.Aliases ?? null, IPAMConfig: ep.IPAMConfig ?? null, ...(ep.MacAddress ? { MacAddress: ep.MacAddress } : {}), ...(links ? { Links: links } : {}) },
    };
    this.store.save(rec);
    return { containerId: rec.Id, networkId: net.id, networkName: net.name };
  }

  /**
   * docker network disconnect: leave now when running (the last one leaves loopback only), and at later starts.
   * As docker: a stopped container (or any, with `force`) can leave a network that no longer exists (removed while
   * the container was stopped: start would refuse it), and `force` on a container that is gone removes a leftover
   * endpoint of that name.
   */
  async disconnect(ref: string, network: string, force = false): Promise<NetworkChange | undefined> {
    const rec = this.unlessGone(force, () => this.store.get(ref));
    if (!rec) {
      const { containerId, networkId, networkName } = await this.networks.forceEndpointDelete(ref, network);
      return { containerId, networkId, networkName };
    }
    const m = this.connectableMode(rec);
    const net = this.unlessGone(force || !rec.Instance, () => this.networks.network(network));
    const ec = this.endpointsOf(rec, m);
    const keys = Object.keys(ec).filter((k) => (net ? this.networkId(k) === net.id : k === network));
    if (rec.Instance && net) {
      const info = await this.networks.detachNetwork(rec.Id, net.id);
      this.refreshEtc(rec, { remove: endpointAddresses(info) });
    } else if (!keys.length) {
      throw new ApiError(500, `container ${rec.Id} is not connected to the network ${net?.name ?? network}`);
    }
    for (const k of keys) delete ec[k];
    rec.EndpointsConfig = ec;
    this.store.save(rec);
    return net && { containerId: rec.Id, networkId: net.id, networkName: net.name };
  }

  /** When `tolerate`, a 404 from the lookup means "gone" (undefined) instead of an error. */
  private unlessGone<T>(tolerate: boolean, lookup: () => T): T | undefined {
    try {
      return lookup();
    } catch (e) {
      if (tolerate && e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    }
  }

  /** docker's refusals for containers outside Berth's networks; else the NetworkMode network. */
  private connectableMode(rec: ContainerRecord): string {
    const m = rec.Spec.network;
    if (m.kind === 'host') throw badRequest('container cannot be disconnected from host network or connected to host network');
    if (m.kind === 'none') throw badRequest('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    if (m.kind === 'container') throw badRequest('container sharing network namespace with another container or host cannot be connected to any other network');
    return m.name;
  }

  /** A running container's /etc/hosts gains or loses its address lines (and gains a connect's links), as docker's; resolv.conf follows the networks. */
  private refreshEtc(rec: ContainerRecord, change: HostsChange): void {
    const p = this.store.paths(rec.Id);
    // written in place: the files are bind-mounted into the container by inode
    if (fs.existsSync(p.hosts)) {
      const text = fs.readFileSync(p.hosts, 'utf8');
      const next = editHosts(text, change, rec.Config.Hostname);
      if (next !== text) fs.writeFileSync(p.hosts, next);
    }
    if (fs.existsSync(p.resolvConf)) {
      const next = this.networks.resolvConf(rec.Id, dnsOverrides(rec.HostConfig));
      if (next !== fs.readFileSync(p.resolvConf, 'utf8')) fs.writeFileSync(p.resolvConf, next);
    }
  }

  /** Undo setup (idempotent): endpoint, published ports, the container's netns. */
  teardown(id: string): Promise<void> {
    return this.networks.detachContainer(id);
  }

  settings(id: string) {
    return this.networks.networkSettings(id);
  }

  ports(id: string) {
    return this.networks.listPorts(id);
  }
}
