/** A read-only view of an image's root filesystem for the builder (COPY destinations, COPY --from sources, chown). */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { unmountOverlay } from '../store/overlay';
import { parseGroup, parsePasswd } from '../spec/user';
import { readInRoot } from '../common/rootpath';

const run = promisify(execFile);

/**
 * The merged root of these layer dirs (top layer first): no layer is an empty dir, one layer is used as is, more are
 * mounted as a read-only overlay (no upper dir) under `scratch`; `release` unmounts it.
 */
export async function mountRootfs(lowers: readonly string[], scratch: string): Promise<{ root: string; release: () => Promise<void> }> {
  fs.mkdirSync(scratch, { recursive: true });
  if (lowers.length <= 1) return { root: lowers[0] ?? scratch, release: async () => undefined };
  const target = path.join(scratch, 'rootfs');
  fs.mkdirSync(target, { recursive: true });
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target]);
  return { root: target, release: async () => unmountOverlay(target) };
}

/** Runs `fn` with the merged root of these layer dirs (mountRootfs), unmounted afterwards. */
export async function withRootfs<T>(lowers: readonly string[], scratch: string, fn: (root: string) => Promise<T>): Promise<T> {
  const { root, release } = await mountRootfs(lowers, scratch);
  try {
    return await fn(root);
  } finally {
    await release();
  }
}

/** Reads a file of the rootfs with symlinks resolved inside it; undefined when absent. */
/**
 * COPY/ADD --chown: `user[:group]` by name or id against the image's passwd/group. As docker documents, a user
 * without a group gives gid = uid.
 */
export async function resolveChown(root: string, chown: string): Promise<{ uid: number; gid: number }> {
  const [user, group] = chown.split(':');
  const id = async (name: string, file: string, kind: 'user' | 'group'): Promise<number> => {
    if (/^\d+$/.test(name)) return Number(name);
    const text = readInRoot(root, file);
    const hit = kind === 'user' ? parsePasswd(text).find((u) => u.name === name)?.uid : parseGroup(text).find((g) => g.name === name)?.gid;
    if (hit === undefined) throw new Error(`unable to convert uid/gid chown string to host mapping: can't find ${kind} ${name}: no such ${kind}`);
    return hit;
  };
  if (!user) throw new Error(`invalid chown string: ${chown}`);
  const uid = await id(user, '/etc/passwd', 'user');
  const gid = group === undefined || group === '' ? uid : await id(group, '/etc/group', 'group');
  return { uid, gid };
}
