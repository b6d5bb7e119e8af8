/** Loopback TCP ports for the servers a test starts (registries, TLS listeners, stubs); published ports of a spec. */
import * as net from 'node:net';
import type { PublishSpec } from '../../src/common/ports';
import { normalizeCreate } from '../../src/engine/containers/normalize';
import type { HostConfig } from '../../src/schema/container';

/** A port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A create body's ExposedPorts and PortBindings as a container's spec has them (checked as at create). */
export const publish = (exposed: Record<string, object> | null, bindings: HostConfig['PortBindings'], publishAll = false): PublishSpec =>
  normalizeCreate({ ExposedPorts: exposed ?? undefined, HostConfig: { PortBindings: bindings, PublishAllPorts: publishAll } }, { exists: () => true, caps: [] }).ports;
