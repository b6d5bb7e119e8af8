/**
 * Named network namespaces (`ip netns add`: a nsfs bind mount at /run/netns/NAME). A name survives a daemon crash,
 * so reconcile can find and delete it; /run is a tmpfs, so a reboot clears them with the kernel state they held.
 */
import { ip } from './iproute';

export const NETNS_DIR = '/run/netns';
export const netnsName = (prefix: string, containerId: string): string => `${prefix}${containerId.slice(0, 12)}`;
export const netnsPath = (name: string): string => `${NETNS_DIR}/${name}`;

/** Create the namespace with its loopback up (needed for --network none too); returns its path. */
export async function createNetns(name: string): Promise<string> {
  await ip(['netns', 'add', name]);
  try {
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (e) {
    await removeNetns(name);
    throw e;
  }
  return netnsPath(name);
}

/** Idempotent: a namespace that is already gone is fine. */
export async function removeNetns(name: string): Promise<void> {
  await ip(['netns', 'del', name]).catch((e: Error) => {
    if (!/No such file or directory/.test(e.message)) throw e;
  });
}

/** Names of the namespaces that start with `prefix`. */
export async function listNetns(prefix: string): Promise<string[]> {
  const out = await ip(['-j', 'netns', 'list']);
  return (JSON.parse(out || '[]') as { name: string }[]).map((n) => n.name).filter((n) => n.startsWith(prefix));
}
