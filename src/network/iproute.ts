/** Thin async wrappers over iproute2's `ip` (JSON output where it exists). */
import { execFile } from 'node:child_process';

export function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** `ip -j route` (main table), as text for ipam.hostRouteSubnets. */
export const routesJson = (): Promise<string> => ip(['-j', 'route']);

/** Names of the host's bridge interfaces. */
export async function bridgeNames(): Promise<string[]> {
  return (JSON.parse((await ip(['-j', 'link', 'show', 'type', 'bridge'])) || '[]') as { ifname: string }[]).map((l) => l.ifname);
}

export async function deleteLink(name: string): Promise<void> {
  await ip(['link', 'del', name]).catch((e: Error) => {
    if (!/Cannot find device/.test(e.message)) throw e;
  });
}

/**
 * Docker's `enable_icc=false`: containers on the bridge cannot reach each other, only the gateway and beyond. Here
 * by the bridge's port isolation (isolated ports forward to the bridge itself, never to one another), which needs
 * no firewall rule and goes with the veth. Idempotent: every port of the bridge is isolated.
 */
export async function isolateBridgePorts(bridge: string): Promise<void> {
  const ports = (JSON.parse((await ip(['-j', 'link', 'show', 'master', bridge])) || '[]') as { ifname: string }[]).map((l) => l.ifname);
  for (const p of ports) await ip(['link', 'set', 'dev', p, 'type', 'bridge_slave', 'isolated', 'on']);
}
