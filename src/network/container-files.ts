/** The container's /etc/hosts and /etc/resolv.conf contents from its endpoints and the host's files (rendering: dnsfiles.ts). */
import * as fs from 'node:fs';
import { DnsOverrides, HostEntry, extraHostLines, parseResolvConf, renderHosts, renderResolvConf } from './dnsfiles';
import { endpointAddresses, type Attachment } from './store';

/** /etc/hosts (host network: the host's own file); one line per address, as docker. */
export function hostsFile(attached: Attachment[], hostHosts: string, hostname: string, extraHosts: HostEntry[] = []): string {
  if (attached.some(({ n }) => n.driver === 'host')) return fs.readFileSync(hostHosts, 'utf8') + extraHostLines(extraHosts).map((l) => `${l}\n`).join('');
  return renderHosts(attached.flatMap(({ e }) => endpointAddresses(e)), hostname, extraHosts);
}

/** /etc/resolv.conf: aardvark on the first user network's gateway when there is one. */
export function resolvConf(attached: Attachment[], hostResolvConf: string, overrides: DnsOverrides = {}): string {
  const host = parseResolvConf(fs.existsSync(hostResolvConf) ? fs.readFileSync(hostResolvConf, 'utf8') : '');
  const nets = attached.map(({ n }) => n);
  const user = nets.find((n) => n.driver === 'bridge' && !n.predefined);
  if (nets.some((n) => n.driver === 'host')) return renderResolvConf(host, { kind: 'host' }, overrides);
  if (user) return renderResolvConf(host, { kind: 'gateway', gateway: user.gateway! }, overrides);
  return renderResolvConf(host, { kind: 'host-copy' }, overrides);
}
