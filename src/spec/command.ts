/**
 * Merge a create body's Config with the image's config the way dockerd does (daemon/commit.go merge +
 * mergeAndVerifyConfig), and build the process environment (container.CreateDaemonEnvironment).
 */
import type { ContainerConfig } from '../schema/container';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface MergedConfig {
  /** null when there is none (no image entrypoint, or `--entrypoint ""`). */
  Entrypoint: string[] | null;
  Cmd: string[] | null;
  Env: string[];
  User: string;
  WorkingDir: string;
}

const envKey = (e: string): string => {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
};

/** Body values win; an Entrypoint given in the body drops the image's Cmd; `[""]` clears the Entrypoint. */
export function mergeConfig(body: ContainerConfig, image: ContainerConfig = {}): MergedConfig {
  let entrypoint = body.Entrypoint ?? null;
  let cmd = body.Cmd ?? null;
  // `Entrypoint: []` counts as "given": it keeps the image's Entrypoint out but, like docker, still takes its Cmd.
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd || cmd.length === 0) cmd = image.Cmd ?? null;
    if (body.Entrypoint === undefined || body.Entrypoint === null) entrypoint = image.Entrypoint ?? null;
  }
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  if ((!entrypoint || entrypoint.length === 0) && (!cmd || cmd.length === 0)) throw new Error('no command specified');

  const userEnv = body.Env ?? [];
  const imageEnv = image.Env ?? [];
  const userKeys = new Set(userEnv.map(envKey));
  const env = userEnv.length === 0 ? [...imageEnv] : [...userEnv, ...imageEnv.filter((e) => !userKeys.has(envKey(e)))];

  return {
    Entrypoint: entrypoint && entrypoint.length > 0 ? entrypoint : null,
    Cmd: cmd && cmd.length > 0 ? cmd : null,
    Env: env,
    User: body.User || image.User || '',
    WorkingDir: body.WorkingDir || image.WorkingDir || '',
  };
}

/** The argv of the container's process: Entrypoint followed by Cmd. */
export const processArgs = (m: Pick<MergedConfig, 'Entrypoint' | 'Cmd'>): string[] => [...(m.Entrypoint ?? []), ...(m.Cmd ?? [])];

/**
 * Defaults (PATH, HOSTNAME, TERM=xterm when tty) overridden in place by the config's Env; a bare `KEY` (no `=`)
 * removes a default, as docker's ReplaceOrAppendEnvValues does.
 */
export function processEnv(configEnv: string[], hostname: string, tty: boolean): string[] {
  const env: (string | null)[] = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${hostname}`];
  if (tty) env.push('TERM=xterm');
  const index = new Map(env.map((e, i) => [envKey(e as string), i]));
  for (const value of configEnv) {
    const key = envKey(value);
    const at = index.get(key);
    if (!value.includes('=')) {
      if (at !== undefined) env[at] = null;
    } else if (at !== undefined) {
      env[at] = value;
    } else {
      index.set(key, env.length);
      env.push(value);
    }
  }
  return env.filter((e): e is string => e !== null);
}
