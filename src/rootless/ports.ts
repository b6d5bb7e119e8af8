/**
 * `-p` of a rootless daemon: netavark's DNAT rules live in the daemon's network namespace, so the host's side of a
 * published port is a forward that slirp4netns listens for on the host and delivers to 10.0.2.100:<host port> in
 * the namespace, where those rules take it to the container. Added and removed through slirp4netns's API socket
 * (one JSON request per connection).
 */
import * as net from 'node:net';
import { ApiError } from '../common/errors';
import { isRootless } from '../common/rootless';
import { PORT_START_ENV, SLIRP_API_ENV } from './enter';
import type { HostPortPublisher, PortMapping } from '../network/ports';

/** rootless Docker's wording (its port driver says the same). */
export function privilegedPortMessage(port: number, start: number): string {
  return `cannot expose privileged port ${port}, you can add 'net.ipv4.ip_unprivileged_port_start=${port}' to /etc/sysctl.conf (currently ${start}), or choose a larger port number (>= ${start})`;
}

export class SlirpPorts implements HostPortPublisher {
  /** `unprivilegedStart`: the host's net.ipv4.ip_unprivileged_port_start, read before the namespace was made. */
  constructor(private readonly apiSocket: string, private readonly unprivilegedStart: number) {}

  async publish(ports: PortMapping[]): Promise<number[]> {
    for (const p of ports) {
      if (p.hostPort < this.unprivilegedStart) throw new ApiError(500, `driver failed programming external connectivity: ${privilegedPortMessage(p.hostPort, this.unprivilegedStart)}`);
      if (p.protocol === 'sctp') throw new ApiError(500, 'driver failed programming external connectivity: rootless Berth publishes tcp and udp ports only');
    }
    const ids: number[] = [];
    try {
      for (const p of ports) {
        const host = p.hostIp || '0.0.0.0';
        const reply = await this.call({ execute: 'add_hostfwd', arguments: { proto: p.protocol, host_addr: host, host_port: p.hostPort, guest_port: p.hostPort } });
        const id = (reply.return as { id?: number } | undefined)?.id;
        if (typeof id !== 'number') {
          throw new ApiError(500, `driver failed programming external connectivity: Error starting userland proxy: listen ${p.protocol}4 ${host}:${p.hostPort}: ${String(reply.error?.desc ?? 'refused by slirp4netns')} (address already in use?)`);
        }
        ids.push(id);
      }
      return ids;
    } catch (e) {
      await this.unpublish(ids);
      throw e;
    }
  }

  async unpublish(ids: number[]): Promise<void> {
    for (const id of ids) await this.call({ execute: 'remove_hostfwd', arguments: { id } }).catch(() => undefined);
  }

  private call(req: object): Promise<{ return?: unknown; error?: { desc?: string } }> {
    return new Promise((resolve, reject) => {
      const c = net.connect(this.apiSocket);
      let buf = '';
      c.setTimeout(5000, () => c.destroy(new Error('slirp4netns API did not answer within 5 s')));
      c.on('connect', () => c.end(JSON.stringify(req)));
      c.on('data', (d: Buffer) => (buf += d.toString()));
      c.on('error', (e) => reject(new ApiError(500, `slirp4netns API: ${e.message}`)));
      c.on('close', () => {
        try {
          resolve(JSON.parse(buf) as { return?: unknown; error?: { desc?: string } });
        } catch {
          reject(new ApiError(500, `slirp4netns API: unexpected reply ${JSON.stringify(buf.slice(0, 200))}`));
        }
      });
    });
  }
}

/** The publisher of a rootless daemon (the wrapper passed slirp4netns's socket and the host's sysctl), else none. */
export function rootlessPortPublisher(env: NodeJS.ProcessEnv = process.env): HostPortPublisher | undefined {
  if (!isRootless(env) || !env[SLIRP_API_ENV]) return undefined;
  return new SlirpPorts(env[SLIRP_API_ENV], Number(env[PORT_START_ENV] ?? 1024));
}
