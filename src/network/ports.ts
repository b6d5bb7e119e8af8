/** Published ports: the container's typed publish spec in, netavark's port_mappings and docker's reporting shapes out. */
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { ApiError, badRequest } from '../common/errors';
import { formatRange, isProtocol, portRange, splitPortProto, type PortRange, type PortSpec, type Protocol, type PublishSpec } from '../common/ports';
import { parseIp } from './ipam';

export type { Protocol };

/** One published container port. hostIp "" means every host address (docker reports it as 0.0.0.0). */
export interface PortMapping { hostIp: string; hostPort: number; containerPort: number; protocol: Protocol }

/** netavark's port_mappings entry: `range` consecutive ports starting at container_port/host_port. */
export interface NetavarkPortMapping { host_ip: string; container_port: number; host_port: number; range: number; protocol: Protocol }

/** Finds a free host port for `proto` on `hostIp`, within [lo, hi] when given. */
export type FreePortFinder = (proto: Protocol, hostIp: string, range?: [number, number]) => Promise<number>;

function parseRange(s: string, what: string): PortRange {
  const r = portRange(s, 1);
  if (!r) throw badRequest(`invalid ${what}: ${s}`);
  return r;
}

/**
 * Forwards host ports from outside the daemon's network namespace (a rootless daemon's slirp4netns): implemented
 * in rootless/ports.ts, used by the network service.
 */
export interface HostPortPublisher {
  /** Forward each mapping's host port; returns one id per forward, for unpublish. All or nothing. */
  publish(ports: PortMapping[]): Promise<number[]>;
  unpublish(ids: number[]): Promise<void>;
}

/** "80/tcp", "80" (tcp), "8000-8010/udp" → ports and protocol. */
export function parsePortKey(key: string): PortSpec {
  const { ports, proto } = splitPortProto(key);
  if (!isProtocol(proto)) throw badRequest(`invalid proto: ${proto}`);
  return { ...parseRange(ports, 'containerPort'), proto };
}

const keyOf = (port: number, proto: Protocol): string => `${port}/${proto}`;

function checkHostIp(hostIp: string): string {
  if (hostIp === '' || hostIp === '0.0.0.0') return '';
  if (parseIp(hostIp) === undefined) throw badRequest(`invalid host IP for port binding: ${hostIp} (only IPv4 addresses are supported)`);
  return hostIp;
}

/**
 * Turn a container's published ports (checked at create) into concrete mappings: no host port picks a free one, a
 * host range as wide as the container's maps port to port, a wider one picks a free port inside it.
 */
export async function resolvePortMappings(ports: PublishSpec, findFree: FreePortFinder): Promise<PortMapping[]> {
  const out: PortMapping[] = [];
  const bound = new Set<string>();
  for (const b of ports.bindings) {
    const c = b.container;
    const hostIp = checkHostIp(b.hostIp);
    const count = c.end - c.start + 1;
    const h = b.host;
    const hostCount = h ? h.end - h.start + 1 : 0;
    for (let i = 0; i < count; i++) {
      let hostPort: number;
      if (!h) hostPort = await findFree(c.proto, hostIp);
      else if (hostCount === count) hostPort = h.start + i;
      else if (count === 1) hostPort = await findFree(c.proto, hostIp, [h.start, h.end]);
      else throw badRequest(`invalid port range: ${formatRange(h)}:${formatRange(c)}/${c.proto}: host and container port ranges differ in size`);
      out.push({ hostIp, hostPort, containerPort: c.start + i, protocol: c.proto });
      bound.add(keyOf(c.start + i, c.proto));
    }
  }
  if (ports.publishAll) {
    for (const c of ports.exposed) {
      for (let p = c.start; p <= c.end; p++) {
        if (bound.has(keyOf(p, c.proto))) continue;
        out.push({ hostIp: '', hostPort: await findFree(c.proto, ''), containerPort: p, protocol: c.proto });
      }
    }
  }
  checkPortConflicts(out, []);
  return out;
}

const clash = (a: PortMapping, b: PortMapping): boolean =>
  a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === b.hostIp || a.hostIp === '' || b.hostIp === '');

/** docker's error when a host port is published twice (within the new set, or against existing endpoints). */
export function checkPortConflicts(mappings: PortMapping[], existing: PortMapping[]): void {
  mappings.forEach((m, i) => {
    if (existing.some((e) => clash(m, e)) || mappings.slice(0, i).some((e) => clash(m, e)))
      throw new ApiError(500, `driver failed programming external connectivity: Bind for ${m.hostIp || '0.0.0.0'}:${m.hostPort} failed: port is already allocated`);
  });
}

/** A host port Berth keeps bound for a published mapping. */
export type HostSocket = net.Server | dgram.Socket;

/**
 * netavark publishes with DNAT rules, which would silently take a port some host process listens on: refuse it first,
 * as docker's proxy does, naming the holder when `ss` can tell. And keep each port bound while the container runs
 * (docker's proxy does too): a program binding it later would never see its traffic, which the rules send to the
 * container. Returns the sockets, for releaseHostPorts.
 */
export async function holdHostPorts(mappings: PortMapping[]): Promise<HostSocket[]> {
  const held: HostSocket[] = [];
  for (const m of mappings) {
    if (m.protocol === 'sctp') continue;
    const host = m.hostIp || '0.0.0.0';
    const bound = await bindHost(m.protocol, host, m.hostPort);
    if (!(bound instanceof Error)) {
      bound.unref(); // a held port never keeps a stopping daemon alive
      held.push(bound);
      continue;
    }
    releaseHostPorts(held);
    const holder = await portHolder(m.protocol, m.hostPort);
    throw new ApiError(500, `driver failed programming external connectivity: Error starting userland proxy: listen ${m.protocol}4 ${host}:${m.hostPort}: bind: address already in use${holder ? ` (held by ${holder})` : ''}`);
  }
  return held;
}

export function releaseHostPorts(sockets: HostSocket[]): void {
  for (const s of sockets) s.close();
}

/** `python3 (pid 1234)` from `ss -lnp`, or undefined. */
function portHolder(proto: Protocol, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('ss', ['-Hlnp', proto === 'udp' ? '-u' : '-t', `sport = :${port}`], (err, stdout) => {
      const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(err ? '' : stdout);
      resolve(m ? `${m[1]} (pid ${m[2]})` : undefined);
    });
  });
}

/** netavark's port_mappings, with consecutive host→container runs folded into one ranged entry. */
export function toNetavarkPorts(mappings: PortMapping[]): NetavarkPortMapping[] {
  const sorted = [...mappings].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.hostIp.localeCompare(b.hostIp) || a.containerPort - b.containerPort);
  const out: NetavarkPortMapping[] = [];
  for (const m of sorted) {
    const last = out[out.length - 1];
    if (last && last.protocol === m.protocol && last.host_ip === m.hostIp &&
        last.container_port + last.range === m.containerPort && last.host_port + last.range === m.hostPort) last.range++;
    else out.push({ host_ip: m.hostIp, container_port: m.containerPort, host_port: m.hostPort, range: 1, protocol: m.protocol });
  }
  return out;
}

/** docker's NetworkSettings.Ports: every exposed or published port; null when exposed but not published. */
export function dockerPortMap(exposedPorts: Record<string, unknown> | null | undefined, mappings: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(exposedPorts ?? {})) {
    const c = parsePortKey(key);
    for (let p = c.start; p <= c.end; p++) out[keyOf(p, c.proto)] = null;
  }
  for (const m of mappings) (out[keyOf(m.containerPort, m.protocol)] ??= []).push({ HostIp: m.hostIp || '0.0.0.0', HostPort: String(m.hostPort) });
  return out;
}

export interface DockerListPort { IP?: string; PrivatePort: number; PublicPort?: number; Type: Protocol }

/** docker's `Ports` in GET /containers/json: one entry per binding, plus exposed-only ports without IP/PublicPort. */
export function dockerListPorts(exposedPorts: Record<string, unknown> | null | undefined, mappings: PortMapping[]): DockerListPort[] {
  return Object.entries(dockerPortMap(exposedPorts, mappings)).flatMap(([key, binds]) => {
    const { start, proto } = parsePortKey(key);
    return binds ? binds.map((b) => ({ IP: b.HostIp, PrivatePort: start, PublicPort: Number(b.HostPort), Type: proto })) : [{ PrivatePort: start, Type: proto }];
  });
}

/**
 * Bind `port` (0: the kernel picks one) on `address` and release it at once: the bound port, or the bind error.
 * udp probes a datagram socket; tcp stands in for sctp.
 */
/** A socket bound to `address:port` (TCP: listening; connections that reach it are closed), or why not. */
function bindHost(proto: Protocol, address: string, port: number): Promise<HostSocket | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    if (proto === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', (e) => { s.close(); resolve(e); });
      s.bind({ port, address, exclusive: true }, () => resolve(s));
      return;
    }
    const s = net.createServer((c) => c.destroy());
    s.once('error', resolve);
    s.listen({ port, host: address, exclusive: true }, () => resolve(s));
  });
}

/** The port bound (the kernel's pick for 0), released again at once; or why it could not be bound. */
async function bindProbe(proto: Protocol, address: string, port: number): Promise<number | NodeJS.ErrnoException> {
  const s = await bindHost(proto, address, port);
  if (s instanceof Error) return s;
  const bound = s instanceof net.Server ? (s.address() as net.AddressInfo).port : s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return bound;
}

/** The port if it can be bound on `hostIp` right now, undefined if in use. */
async function probe(proto: Protocol, hostIp: string, port: number): Promise<number | undefined> {
  const address = hostIp || '0.0.0.0';
  const r = await bindProbe(proto, address, port);
  if (typeof r === 'number') return r;
  if (r.code === 'EADDRINUSE' || r.code === 'EACCES') return undefined;
  throw badRequest(`cannot publish a port on host address ${address}: ${r.code ?? r.message}`);
}

/**
 * The real finder: the kernel picks an ephemeral port (bind to port 0), or the first bindable one in a range.
 * Ports Berth already DNATs are not bound on the host, so `taken` ("tcp/5000") must be skipped explicitly.
 */
export function hostPortFinder(taken: ReadonlySet<string>): FreePortFinder {
  return async (proto, hostIp, range) => {
    const free = (p: number | undefined): p is number => p !== undefined && !taken.has(`${proto}/${p}`);
    if (range) {
      for (let p = range[0]; p <= range[1]; p++) if (free(await probe(proto, hostIp, p))) return p;
      throw new ApiError(500, `Bind for ${hostIp || '0.0.0.0'}:${range[0]}-${range[1]} failed: all ports are allocated`);
    }
    for (let i = 0; i < 50; i++) {
      const p = await probe(proto, hostIp, 0);
      if (free(p)) return p;
    }
    throw new ApiError(500, 'could not find a free host port');
  };
}
