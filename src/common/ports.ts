/**
 * Docker's "port[-range][/proto]" (nat.ParsePortSpec, nat.ParsePortRange) for every reader of one: CLI -p and
 * --expose, the network layer, Dockerfile EXPOSE, `--change EXPOSE`, the ps publish/expose filters. Each caller
 * words its own errors, as docker does at each of those places.
 */

export type Protocol = 'tcp' | 'udp' | 'sctp';
const PROTOCOLS: readonly string[] = ['tcp', 'udp', 'sctp'];

export interface PortRange { start: number; end: number }

/** A range with its protocol ("8000-8010/udp"), as a container's exposed or published ports. */
export interface PortSpec extends PortRange { proto: Protocol }

/** One `-p` binding, checked at create: the host address ('' = every one) and host ports (none: the host picks). */
export interface PortBindingSpec { container: PortSpec; hostIp: string; host?: PortRange }

/** What a container publishes: its bindings, its exposed ports and `-P` (publish every exposed port). */
export interface PublishSpec { bindings: PortBindingSpec[]; exposed: PortSpec[]; publishAll: boolean }

/** "80" or "8000-8010". */
export const formatRange = (r: PortRange): string => (r.end > r.start ? `${r.start}-${r.end}` : String(r.start));

export const isProtocol = (p: string): p is Protocol => PROTOCOLS.includes(p);

/** Split at the last `/`: the port part and the protocol, lower-cased ("tcp" when none is given). */
export function splitPortProto(spec: string): { ports: string; proto: string } {
  const slash = spec.lastIndexOf('/');
  return slash < 0 ? { ports: spec, proto: 'tcp' } : { ports: spec.slice(0, slash), proto: spec.slice(slash + 1).toLowerCase() };
}

/** "80" or "8000-8010" → the range; undefined unless digits (bounds are checked by `inBounds`). */
export function parsePortRange(s: string): PortRange | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  const start = Number(m[1]);
  return { start, end: m[2] === undefined ? start : Number(m[2]) };
}

/** start ≥ `min`, end ≥ start, end ≤ 65535 (`min` is 0 where docker accepts port 0, e.g. "let the kernel pick"). */
export const inBounds = (r: PortRange, min = 0): boolean => r.start >= min && r.end >= r.start && r.end <= 65535;

/** A valid range or undefined: parsePortRange + inBounds. */
export function portRange(s: string, min = 0): PortRange | undefined {
  const r = parsePortRange(s);
  return r && inBounds(r, min) ? r : undefined;
}

/** The "port/proto" keys of a range (docker's nat.Port), one per port. */
export function portKeys(r: PortRange, proto: string): string[] {
  const out: string[] = [];
  for (let p = r.start; p <= r.end; p++) out.push(`${p}/${proto}`);
  return out;
}
