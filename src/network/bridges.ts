/**
 * The kernel side that outlives one container: the bridge keeper (a network's bridge, rules and DNS stay while it is
 * in use), netavark teardown with its recovery when the netns is gone, and the start-up repair and leftover report.
 * Callers hold NetworkService's lock.
 */
import * as fs from 'node:fs';
import { newId, shortId } from '../common/ids';
import { log } from '../common/log';
import { endpointAddressesOn } from './addresses';
import { bridgeNames, deleteLink, ip } from './iproute';
import { deleteRule, portRules } from './iptables';
import { Netavark, netavarkConfig } from './netavark';
import { createNetns, listNetns, netnsName, removeNetns } from './netns';
import type { EndpointRecord, NetworkRecord, NetworkStore } from './store';
import { holdHostPorts, releaseHostPorts, type HostPortPublisher, type HostSocket } from './ports';

/** Something of this daemon's left in the kernel (see Bridges.leftovers). */
export interface NetworkLeftover {
  kind: 'endpoint' | 'netns' | 'bridge' | 'veth' | 'iptables';
  name: string;
  detail: string;
  repair: () => Promise<void>;
}

const heldKey = (e: EndpointRecord): string => `${e.containerId}/${e.networkId}`;

/** The kernel names this daemon owns. */
export interface OwnNames {
  defaultBridge: string; // berth0
  /** user networks get bridge `<prefix>-<id>` (15 chars max) */
  bridgePrefix: string; // berth
  netnsPrefix: string; // berth-
}

export class Bridges {
  /** Host ports held for published mappings, by endpoint (`container/network`). */
  private readonly held = new Map<string, HostSocket[]>();

  constructor(
    private readonly store: NetworkStore,
    private readonly netavark: Netavark,
    private readonly names: OwnNames,
    private readonly hostPorts?: HostPortPublisher,
  ) {}

  /** Bridges Berth names itself; a user-chosen com.docker.network.bridge.name may be a pre-existing host bridge. */
  isBerthBridgeName(b: string): boolean {
    return b === this.names.defaultBridge || new RegExp(`^${escapeRe(this.names.bridgePrefix)}-[0-9a-f]+$`).test(b);
  }

  async deleteOwnBridge(b: string | undefined): Promise<void> {
    if (b && this.isBerthBridgeName(b)) await deleteLink(b);
  }

  /** Undo every endpoint of the container (replaying the stored netavark JSON) and delete its netns. Idempotent. */
  async detachAll(containerId: string): Promise<void> {
    for (const e of this.store.listEndpoints(containerId)) {
      await this.teardown(e);
      this.store.deleteEndpoint(containerId, e.networkId);
    }
    await removeNetns(netnsName(this.names.netnsPrefix, containerId));
  }

  /**
   * netavark teardown with the setup JSON. If the netns is gone (crash, reboot of the netns), netavark refuses
   * to start, and with an empty stand-in netns it stops at the missing veth before the network-wide cleanup; so
   * then the per-container part is done against a stand-in and, if this was the network's last container, a
   * throwaway container is set up and torn down so that netavark removes the bridge, NAT rules and DNS itself.
   */
  /** Bind an endpoint's published host ports for as long as it lives (holdHostPorts); a rootless daemon's are slirp4netns's. */
  async holdPorts(e: EndpointRecord): Promise<void> {
    if (this.hostPorts || !e.ports?.length || this.held.has(heldKey(e))) return;
    this.held.set(heldKey(e), await holdHostPorts(e.ports));
  }

  async teardown(e: EndpointRecord): Promise<void> {
    releaseHostPorts(this.held.get(heldKey(e)) ?? []);
    this.held.delete(heldKey(e));
    if (e.hostForwards?.length) await this.hostPorts?.unpublish(e.hostForwards);
    if (!e.netavark) return;
    if (fs.existsSync(e.netnsPath)) {
      try {
        await this.netavark.teardown(e.netnsPath, e.netavark);
        return;
      } catch (err) {
        // e.g. setup never completed or the veth is gone: finish the job the tolerant way below
        log.warn('netavark teardown failed, cleaning up with a stand-in namespace', { container: e.containerId, error: (err as Error).message });
      }
    }
    await this.withScratchNetns(e.containerId, (p) => this.netavark.teardown(p, e.netavark!).catch(() => undefined));
    const n = this.store.getNetwork(e.networkId);
    if (n && !this.store.endpointsOn(n.id).some((o) => o.containerId !== e.containerId)) await this.flushNetwork(n);
  }

  /**
   * netavark removes a bridge, its NAT rules and DNS with the bridge's last container and makes them again for the
   * next one: ~100 ms on each side of every `run --rm`. A spare interface on the bridge keeps it (and its rules) in
   * place while the network is in use, as docker0 stays; releaseBridge takes it away again.
   */
  async keepBridge(n: NetworkRecord): Promise<void> {
    if (!n.bridge) return;
    const keeper = keeperName(n.bridge);
    if ((await ip(['-o', 'link', 'show', keeper]).catch(() => '')) !== '') return;
    // A veth pair with one end on the bridge (the kernel here has no dummy driver; veth is always there), both ends up:
    // the bridge keeps its carrier between containers. A bridge that regains a carrier runs duplicate address detection
    // on its IPv6 gateway again, and aardvark-dns, started by that netavark setup, cannot bind the address while it is
    // tentative and exits (netavark 1.4 waits for it only on a bridge it creates).
    await ip(['link', 'add', keeper, 'type', 'veth', 'peer', 'name', `${keeper}p`]);
    await ip(['link', 'set', keeper, 'master', n.bridge, 'up']);
    await ip(['link', 'set', `${keeper}p`, 'up']);
  }

  /** Let go of an idle network's bridge: netavark drops bridge, rules and DNS (flushNetwork), the keeper goes meanwhile. */
  async releaseBridge(n: NetworkRecord): Promise<void> {
    if (!n.bridge) return;
    if ((await bridgeNames()).includes(n.bridge)) await this.flushNetwork(n);
    // also when the bridge is already gone (deleted by other hands): its keeper pair would outlive it
    else await deleteLink(keeperName(n.bridge));
  }

  /** Daemon shutdown with nothing running: release every bridge, so a stopped berthd leaves no trace in the kernel. */
  async releaseIdle(): Promise<void> {
    for (const n of this.store.listNetworks()) {
      if (this.store.endpointsOn(n.id).length) continue;
      // one network that cannot be released does not keep the others' bridges
      await this.releaseBridge(n).catch((e: Error) => log.warn('releasing an idle network failed', { network: n.id, error: e.message }));
    }
  }

  /**
   * Start-up repair: tear down endpoints of containers that are gone, delete their namespaces, clean networks
   * whose last container vanished without teardown, and delete Berth-named bridges that no network owns.
   */
  async reconcile(live: Set<string>): Promise<void> {
    const gone = new Set(this.store.listEndpoints().map((e) => e.containerId).filter((id) => !live.has(id)));
    for (const id of gone) await this.detachAll(id);
    // a restarted daemon holds the ports of the containers that kept running again
    for (const e of this.store.listEndpoints().filter((x) => live.has(x.containerId))) {
      await this.holdPorts(e).catch((err: Error) => log.warn('a published port of a running container is taken', { container: e.containerId, error: err.message }));
    }
    const liveShort = new Set([...live].map((id) => netnsName(this.names.netnsPrefix, id)));
    for (const ns of await listNetns(this.names.netnsPrefix)) if (!liveShort.has(ns)) await removeNetns(ns);
    const networks = this.store.listNetworks();
    const bridges = await bridgeNames();
    for (const n of networks) {
      if (n.bridge && bridges.includes(n.bridge) && !this.store.endpointsOn(n.id).length) await this.releaseBridge(n);
    }
    const owned = new Set(networks.map((n) => n.bridge));
    for (const b of bridges) if (this.isBerthBridgeName(b) && !owned.has(b)) await deleteLink(b);
  }

  /**
   * For `system check`: this daemon's network leftovers (its netns prefix, its bridges, its network ids, never
   * another daemon's): endpoints and netns of containers not running, Berth-named bridges no network owns, veths on
   * its bridges whose peer is in no live netns, and netavark port rules of its networks for containers not running.
   * Each comes with its removal; `repair` (reconcile under the lock) removes the first three.
   */
  async leftovers(live: Set<string>, repair: () => Promise<void>): Promise<NetworkLeftover[]> {
    const out: NetworkLeftover[] = [];
    for (const e of this.store.listEndpoints()) {
      if (!live.has(e.containerId)) out.push({ kind: 'endpoint', name: `${shortId(e.containerId)} on ${shortId(e.networkId)}`, detail: 'endpoint of a container that is not running', repair });
    }
    const liveNs = new Set([...live].map((id) => netnsName(this.names.netnsPrefix, id)));
    for (const ns of await listNetns(this.names.netnsPrefix)) {
      if (!liveNs.has(ns)) out.push({ kind: 'netns', name: ns, detail: 'network namespace of a container that is not running', repair });
    }
    const networks = this.store.listNetworks();
    const owned = new Set(networks.map((n) => n.bridge).filter((b): b is string => !!b));
    const bridges = (await bridgeNames()).filter((b) => owned.has(b) || this.isBerthBridgeName(b));
    for (const b of bridges) if (!owned.has(b)) out.push({ kind: 'bridge', name: b, detail: 'bridge no network owns', repair });
    // A container's veth dies with its netns (reported above); one whose peer is in the host's namespace and is not
    // the bridge's keeper was made by an interrupted setup.
    const veths = JSON.parse((await ip(['-j', 'link', 'show', 'type', 'veth'])) || '[]') as { ifname: string; master?: string; link_netnsid?: number }[];
    for (const v of veths) {
      if (!v.master || !bridges.includes(v.master) || v.ifname === keeperName(v.master) || v.link_netnsid !== undefined) continue;
      out.push({ kind: 'veth', name: v.ifname, detail: `on bridge ${v.master}, its peer in no container`, repair: () => deleteLink(v.ifname) });
    }
    const ours = new Set(networks.map((n) => n.id));
    for (const rule of await portRules()) {
      if (ours.has(rule.network) && !live.has(rule.container)) {
        out.push({ kind: 'iptables', name: `${rule.tool} nat ${rule.chain}`, detail: `port rule of container ${shortId(rule.container)}, which is not running`, repair: () => deleteRule(rule) });
      }
    }
    return out;
  }

  /** Make netavark drop a network's bridge, rules and DNS entry: one throwaway container in, the keeper out, the container out. */
  private async flushNetwork(n: NetworkRecord): Promise<void> {
    const probeId = newId();
    const rec: EndpointRecord = {
      containerId: probeId, containerName: `flush-${shortId(probeId)}`, networkId: n.id, endpointId: probeId, netnsPath: '',
      ...endpointAddressesOn(n, this.store.endpointsOn(n.id)), aliases: [], dnsNames: [], ports: [], exposedPorts: {}, setupDone: false,
    };
    const config = netavarkConfig(rec, n);
    await this.withScratchNetns(probeId, async (p) => {
      await this.netavark.setup(p, config);
      // the keeper goes between setup and teardown: the bridge keeps its carrier while aardvark-dns starts (see
      // keepBridge), and the probe is its last port at teardown, so that netavark removes it
      await deleteLink(keeperName(n.bridge!));
      await this.netavark.teardown(p, config);
    });
  }

  private async withScratchNetns(id: string, fn: (p: string) => Promise<void>): Promise<void> {
    const name = `${this.names.netnsPrefix}x${id.slice(0, 11)}`;
    await removeNetns(name);
    const p = await createNetns(name);
    try {
      await fn(p);
    } finally {
      await removeNetns(name);
    }
  }
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The veth end that keeps a bridge alive (its peer adds `p`; interface names have at most 15 characters). */
const keeperName = (bridge: string): string => `${bridge.slice(0, 13)}k`;
