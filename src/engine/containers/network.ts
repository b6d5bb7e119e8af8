/**
 * A container's network at start and exit: which namespace it gets (`--network none|host|container:X|NAME`), the
 * endpoint on a Berth network (veth, address, published ports, DNS, through the network service), and the contents of
 * its /etc/hosts and /etc/resolv.conf.
 */
import * as os from 'node:os';
import { badRequest, conflict } from '../../common/errors';
import type { NetworkService } from '../../network/service';
import type { NetworkNs } from '../../spec/spec';
import type { ContainerRecord, ContainerStore } from './record';

export interface ContainerNet {
  ns: NetworkNs;
  hostname: string;
  hosts: string;
  resolvConf: string;
}

type Mode = { kind: 'none' } | { kind: 'host' } | { kind: 'container'; ref: string } | { kind: 'network'; name: string };

export function parseMode(mode: string | undefined): Mode {
  if (!mode || mode === 'default') return { kind: 'network', name: 'bridge' };
  if (mode === 'none' || mode === 'host') return { kind: mode };
  if (mode.startsWith('container:')) return { kind: 'container', ref: mode.slice('container:'.length) };
  return { kind: 'network', name: mode };
}

interface EndpointRequest {
  IPAMConfig?: { IPv4Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
}

export class ContainerNetworking {
  constructor(
    private readonly networks: NetworkService,
    private readonly store: ContainerStore,
  ) {}

  /** Refuse at create what start could not do (docker: 404 for an unknown network). */
  validate(hc: ContainerRecord['HostConfig']): void {
    const m = parseMode(hc.NetworkMode);
    if (m.kind === 'network') this.networks.inspect(m.name);
    if (m.kind === 'container') this.store.get(m.ref);
    if (m.kind !== 'network' && Object.keys(hc.PortBindings ?? {}).length && m.kind !== 'none') {
      // docker ignores -p with --network host and refuses it with container: networking
      if (m.kind === 'container') throw badRequest('conflicting options: port publishing and the container type network mode');
    }
  }

  async setup(rec: ContainerRecord, endpoints: Record<string, EndpointRequest> | null | undefined): Promise<ContainerNet> {
    const hc = rec.HostConfig;
    const m = parseMode(hc.NetworkMode);
    const dns = { dns: hc.Dns ?? undefined, dnsSearch: hc.DnsSearch ?? undefined, dnsOptions: hc.DnsOptions ?? undefined };
    if (m.kind === 'container') {
      const other = this.store.get(m.ref);
      if (!other.State.Running) throw conflict(`cannot join network of a non running container: ${other.Id}`);
      return {
        ns: { mode: 'path', path: `/proc/${other.State.Pid}/ns/net` },
        hostname: other.Config.Hostname,
        hosts: this.networks.hostsFile(other.Id, other.Config.Hostname, hc.ExtraHosts ?? []),
        resolvConf: this.networks.resolvConf(other.Id, dns),
      };
    }
    let ns: NetworkNs = m.kind === 'host' ? { mode: 'host' } : { mode: 'none' };
    const hostname = m.kind === 'host' ? os.hostname() : rec.Config.Hostname;
    if (m.kind === 'network') {
      const path = await this.networks.createNamespace(rec.Id);
      ns = { mode: 'path', path };
      const ep = endpoints?.[m.name] ?? endpoints?.[hc.NetworkMode ?? ''] ?? {};
      await this.networks.attachContainer(rec.Id, rec.Name.slice(1), path, {
        network: m.name,
        aliases: ep.Aliases ?? undefined,
        ip: ep.IPAMConfig?.IPv4Address || undefined,
        mac: ep.MacAddress || (rec.Config as { MacAddress?: string }).MacAddress || undefined,
        portBindings: hc.PortBindings,
        exposedPorts: rec.Config.ExposedPorts,
        publishAll: !!hc.PublishAllPorts,
      });
    } else if (m.kind === 'host') {
      await this.networks.attachContainer(rec.Id, rec.Name.slice(1), '', { network: 'host' });
    }
    return {
      ns,
      hostname,
      hosts: this.networks.hostsFile(rec.Id, hostname, hc.ExtraHosts ?? []),
      resolvConf: this.networks.resolvConf(rec.Id, dns),
    };
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
