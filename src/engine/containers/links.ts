/**
 * Legacy container links (`--link`, HostConfig.Links), as docker keeps them: stored as "/child:/parent/alias" (what
 * inspect shows), checked at create, and at start turned into /etc/hosts entries (alias, hostname and name of the
 * child) plus, on the default bridge, docker's ALIAS_NAME / ALIAS_PORT_* / ALIAS_ENV_* variables. A link's full name
 * "/parent/alias" is also a name of the child (list Names) and `DELETE /containers/parent/alias?link=true` drops it.
 */
import * as path from 'node:path';
import { badRequest, conflict, notFound } from '../../common/errors';
import type { HostEntry } from '../../network/dnsfiles';
import type { NetworkMode } from './normalize';
import type { ContainerRecord, ContainerStore } from './record';

export interface Link {
  /** The linked container's name, without "/". */
  child: string;
  alias: string;
}

/** docker's opts.ParseLink: "name" or "name:alias" ("/" before either is dropped). */
export function parseLink(spec: string): Link {
  const parts = spec.split(':');
  const clean = (s: string) => s.replace(/^\//, '');
  if (parts.length > 2 || !clean(parts[0]) || (parts.length === 2 && !clean(parts[1]))) throw badRequest(`bad format for links: ${spec}`);
  return { child: clean(parts[0]), alias: clean(parts[1] ?? parts[0]) };
}

/** A stored link ("/child:/parent/alias") or a client's ("child:alias") as child and alias. */
export function storedLink(spec: string): Link {
  const i = spec.indexOf(':');
  if (i < 0) return parseLink(spec);
  return { child: spec.slice(0, i).replace(/^\//, ''), alias: path.posix.basename(spec.slice(i + 1)) };
}

const HOST_AND_LINKS = 'conflicting options: host type networking can\'t be used with links. This would result in undefined behavior';

/**
 * HostConfig.Links at create, in the form docker's inspect shows: each child must exist (docker: 400 "could not get
 * container for X") and must not be on the host network (it has no address of its own to link to).
 */
export function normalizeLinks(links: string[] | null | undefined, mode: NetworkMode, parentName: string, store: ContainerStore): string[] | null {
  if (!links?.length) return null;
  if (mode.kind === 'host') throw badRequest(HOST_AND_LINKS);
  if (mode.kind === 'container') throw badRequest('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
  return links.map((spec) => {
    const { child, alias } = parseLink(spec);
    const rec = store.find(child);
    if (!rec) throw badRequest(`could not get container for ${child}: No such container: ${child}`);
    if (rec.Spec.network.kind === 'host') throw badRequest(HOST_AND_LINKS);
    return `${rec.Name}:${parentName}/${alias}`;
  });
}

/** The link names ("/parent/alias") under which other containers know `rec`, for list Names. */
export function linkNames(rec: ContainerRecord, all: ContainerRecord[]): string[] {
  return all.flatMap((p) => (p.HostConfig.Links ?? []).map(storedLink).filter((l) => l.child === rec.Name.slice(1)).map((l) => `${p.Name}/${l.alias}`));
}

/** What a link gives the parent at start: a hosts entry and, on the default bridge, env. */
export interface LinkGrant {
  host: HostEntry;
  env: string[];
}

/**
 * A link of `parent` to a running child at `ip`. `legacyEnv`: docker sets the variables only on the default bridge
 * (on a user-defined network a link is a name only).
 */
export function linkGrant(parent: ContainerRecord, link: Link, child: ContainerRecord, ip: string, legacyEnv: boolean): LinkGrant {
  const childName = child.Name.slice(1);
  const names = [link.alias, child.Config.Hostname, ...(link.alias !== childName ? [childName] : [])];
  return { host: { names: names.join(' '), ip }, env: legacyEnv ? linkEnv(`${parent.Name}/${link.alias}`, ip, Object.keys(child.Config.ExposedPorts ?? {}), child.Config.Env ?? []) : [] };
}

/** A child that is not running cannot be linked to (docker's wording). */
export function notRunning(parent: ContainerRecord, link: Link, child: ContainerRecord): Error {
  return conflict(`Cannot link to a non running container: ${child.Name} AS ${parent.Name}/${link.alias}`);
}

interface Port {
  port: number;
  proto: string;
}

/**
 * docker's link variables: PREFIX_NAME, PREFIX_PORT (the lowest port), PREFIX_PORT_<n>_<PROTO>{,_ADDR,_PORT,_PROTO} per
 * exposed port, _START/_END variables for a run of consecutive ports, and PREFIX_ENV_<k> per variable of the child
 * (but HOME and PATH). PREFIX is the alias upper-cased with "-" as "_".
 */
export function linkEnv(fullName: string, ip: string, exposed: string[], childEnv: string[]): string[] {
  const prefix = path.posix.basename(fullName).toUpperCase().replace(/-/g, '_');
  const ports: Port[] = exposed
    .map((p) => ({ port: Number(p.split('/')[0]), proto: (p.split('/')[1] || 'tcp').toLowerCase() }))
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : 0));
  const url = (p: Port) => `${p.proto}://${ip}:${p.port}`;
  const key = (p: Port) => `${prefix}_PORT_${p.port}_${p.proto.toUpperCase()}`;
  const env = [`${prefix}_NAME=${fullName}`];
  if (ports.length) env.push(`${prefix}_PORT=${url(ports[0])}`);
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1].port === ports[j].port + 1) j++;
    if (j > i) {
      const [first, last] = [ports[i], ports[j]];
      env.push(`${key(first)}_START=${url(first)}`, `${key(first)}_PORT_START=${first.port}`);
      env.push(`${prefix}_PORT_${first.port}_${last.proto.toUpperCase()}_END=${url(last)}`, `${prefix}_PORT_${first.port}_${last.proto.toUpperCase()}_PORT_END=${last.port}`);
    }
    i = j + 1;
  }
  for (const p of ports) env.push(`${key(p)}=${url(p)}`, `${key(p)}_ADDR=${ip}`, `${key(p)}_PORT=${p.port}`, `${key(p)}_PROTO=${p.proto}`);
  for (const v of childEnv) {
    const eq = v.indexOf('=');
    if (eq <= 0 || ['HOME', 'PATH'].includes(v.slice(0, eq))) continue;
    env.push(`${prefix}_ENV_${v.slice(0, eq)}=${v.slice(eq + 1)}`);
  }
  return env;
}

/**
 * `DELETE /containers/parent/alias?link=true`: the parent forgets the link. A plain container name is refused as
 * docker refuses it; an unknown link name is "No such container" (docker looks the link name up as a container).
 */
export function removeLink(name: string, store: ContainerStore): ContainerRecord {
  const full = name.startsWith('/') ? name : `/${name}`;
  const parentName = path.posix.dirname(full);
  const alias = path.posix.basename(full);
  if (parentName === '/') {
    store.get(name);
    throw conflict('Conflict, cannot remove the default link name of the container');
  }
  const parent = store.find(parentName.slice(1));
  const links = parent?.HostConfig.Links ?? [];
  const kept = links.filter((l) => storedLink(l).alias !== alias);
  if (!parent || kept.length === links.length) throw notFound(`No such container: ${full.slice(1)}`);
  parent.HostConfig.Links = kept.length ? kept : null;
  store.save(parent);
  return parent;
}
