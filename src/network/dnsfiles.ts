/** Pure: the container's /etc/hosts and /etc/resolv.conf, the way docker writes them. */

export interface ResolvConf { nameservers: string[]; search: string[]; options: string[] }

export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const [key, ...vals] = raw.replace(/[#;].*/, '').trim().split(/\s+/);
    if (key === 'nameserver' && vals[0]) out.nameservers.push(vals[0]);
    else if (key === 'search' || key === 'domain') out.search = vals; // the last search/domain line wins
    else if (key === 'options') out.options.push(...vals);
  }
  return out;
}

const isLoopback = (ns: string): boolean => ns.startsWith('127.') || ns === '::1';
/** docker's fallback when the host only has loopback resolvers (e.g. systemd-resolved's 127.0.0.53). */
export const DOCKER_FALLBACK_DNS = ['8.8.8.8', '8.8.4.4'];

export interface DnsOverrides { dns?: string[] | null; dnsSearch?: string[] | null; dnsOptions?: string[] | null }

/**
 * mode "gateway": user network, the container asks aardvark on the gateway (then any --dns servers);
 * mode "host-copy": default bridge / none, the host's resolvers minus loopback ones (unreachable from the netns);
 * mode "host": host network, the host's file as is.
 */
export function renderResolvConf(host: ResolvConf, mode: { kind: 'gateway'; gateway: string } | { kind: 'host-copy' } | { kind: 'host' }, o: DnsOverrides = {}): string {
  let servers: string[];
  if (mode.kind === 'host') servers = o.dns?.length ? o.dns : host.nameservers;
  else if (mode.kind === 'gateway') servers = [mode.gateway, ...(o.dns ?? [])];
  else if (o.dns?.length) servers = o.dns;
  else {
    servers = host.nameservers.filter((ns) => !isLoopback(ns));
    if (!servers.length) servers = DOCKER_FALLBACK_DNS;
  }
  const search = o.dnsSearch?.length ? o.dnsSearch : host.search;
  const options = o.dnsOptions?.length ? o.dnsOptions : host.options;
  return [
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...servers.map((s) => `nameserver ${s}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ].join('\n') + '\n';
}

const BASE_HOSTS = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];

/** An /etc/hosts entry: --add-host's (one name) or a link's (several, space-separated). */
export interface HostEntry { names: string; ip: string }

/** docker's /etc/hosts: the standard block, --add-host entries, then each of the container's IPs with its hostname. */
export function renderHosts(ips: string | string[] | undefined, hostname: string, extraHosts: HostEntry[] = []): string {
  const own = (Array.isArray(ips) ? ips : ips ? [ips] : []).map((ip) => hostsLine(ip, hostname));
  return [...BASE_HOSTS, ...extraHostLines(extraHosts), ...own].join('\n') + '\n';
}

export const hostsLine = (ip: string, hostname: string): string => `${ip}\t${hostname}`;

/** A running container's /etc/hosts edit: its addresses on a network joined or left, and host entries a connect's links add. */
export interface HostsChange { add?: string[]; remove?: string[]; extraHosts?: HostEntry[] }

/** A running container's /etc/hosts after connect (lines added) or disconnect (lines of those addresses removed), edits kept. */
export function editHosts(text: string, change: HostsChange, hostname: string): string {
  const lines = text.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  const gone = new Set(change.remove ?? []);
  const kept = lines.filter((l) => !gone.has(l.split(/\s+/)[0]));
  return [...kept, ...(change.add ?? []).map((ip) => hostsLine(ip, hostname)), ...extraHostLines(change.extraHosts ?? [])].join('\n') + '\n';
}

export const extraHostLines = (extraHosts: HostEntry[]): string[] => extraHosts.map((h) => hostsLine(h.ip, h.names));
