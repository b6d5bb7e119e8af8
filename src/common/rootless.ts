/**
 * Rootless Berth's layout (rootless Docker's, under `berth/`): shared by the CLI (which socket to try) and berthd
 * (its defaults when started by a non-root user). Pure: reads only the environment it is given.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Set in the re-executed daemon (inside the user namespace) to the wrapper's pid. */
export const ROOTLESS_ENV = 'BERTH_ROOTLESS';

export interface RootlessPaths {
  /** `$XDG_DATA_HOME/berth`, default `~/.local/share/berth` */
  dataRoot: string;
  /** `$XDG_RUNTIME_DIR/berth` */
  execRoot: string;
  socket: string;
}

/** undefined when `XDG_RUNTIME_DIR` is not set (rootless-check names it). */
export function rootlessPaths(env: NodeJS.ProcessEnv, home: string): RootlessPaths | undefined {
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (!runtimeDir || !path.isAbsolute(runtimeDir)) return undefined;
  const dataHome = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(home, '.local/share');
  const execRoot = path.join(runtimeDir, 'berth');
  return { dataRoot: path.join(dataHome, 'berth'), execRoot, socket: path.join(execRoot, 'berth.sock') };
}

/**
 * The MTU of a rootless daemon's link to the host (slirp4netns's tap) and, by default, of its bridge networks:
 * slirp4netns's cost is per packet, so a 1500-byte container link cut `-p` throughput about tenfold
 * (docs/benchmarks.md, bench/rootless.sh). `com.docker.network.driver.mtu` still sets a network's own.
 */
export const ROOTLESS_MTU = 65520;

/** True inside a rootless berthd (and the conmon/crun it starts). */
export const isRootless = (env: NodeJS.ProcessEnv = process.env): boolean => env[ROOTLESS_ENV] !== undefined;

/** The highest gid this process's user namespace maps (/proc/self/gid_map: inside, start, count per line). */
export function maxMappedGid(gidMap = fs.readFileSync('/proc/self/gid_map', 'utf8')): number {
  let max = 0;
  for (const line of gidMap.trim().split('\n')) {
    const [inside, , count] = line.trim().split(/\s+/).map(Number);
    if (count > 0) max = Math.max(max, inside + count - 1);
  }
  return max;
}
