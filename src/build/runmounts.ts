/**
 * RUN --mount at run time: each RunMount becomes a mount of the step's container (cache dirs from CacheMounts, binds
 * of the context or of another stage's rootfs, tmpfs, secret files on the exec root's tmpfs, ssh agent sockets).
 * Everything a step acquires is released by `release`, on success and failure alike; secrets are written only under
 * the secrets dir and passed to the container by mount (or env=), never into the instruction, cache key or log.
 */
import { execFile, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { MountSpec } from '../schema/container';
import { resolveInRoot } from '../common/rootpath';
import type { CacheMounts } from './cachemounts';
import { hashSources } from './cachekey';
import type { PathFilter } from './context';
import type { Instruction, RunInst } from './instructions';
import { parseRunMounts, type RunMount } from './mounts';
import { DockerfileError } from './parser';
import { mountRootfs } from './rootfs';

const run = promisify(execFile);

/** What `--ssh ID=...` forwarded: an agent socket on this host, or private keys berthd loads into an agent of its own. */
export type SshSource = { socket: string } | { keys: Buffer[] };

export interface MountEnv {
  cacheMounts: CacheMounts;
  contextDir: string;
  /** The layer dirs (top first) and ID of a `from=` stage or image. */
  source: (from: string) => { lowers: string[]; id: string };
  secrets: ReadonlyMap<string, Buffer>;
  ssh: ReadonlyMap<string, SshSource>;
  /** Per-step directory on a tmpfs for secret files and agent sockets (removed by release). */
  secretsDir: string;
  /** Per-step scratch directory (rootfs mounts, rw bind copies). */
  scratch: string;
}

export interface PreparedMounts {
  mounts: MountSpec[];
  tmpfs: Record<string, string>;
  env: string[];
  /** Container paths mounted over: stubs the runtime made for them are not part of the layer. */
  targets: string[];
  release: () => Promise<void>;
}

/** An error as one of the instruction's line (DockerfileErrors pass as they are). */
export function atLine(inst: Instruction, e: unknown): DockerfileError {
  return e instanceof DockerfileError ? e : new DockerfileError(inst.loc.file, inst.loc.startLine, (e as Error).message, inst.kind);
}

/** The RUN's mounts, parsed, and its entitlements checked against berthd's; errors name the line. */
export function runMounts(inst: RunInst, entitlements: readonly string[]): RunMount[] {
  try {
    if (inst.security === 'insecure' && !entitlements.includes('security.insecure')) {
      throw new Error('security.insecure is not allowed: start berthd with --allow-insecure-entitlement security.insecure');
    }
    return parseRunMounts(inst.mounts);
  } catch (e) {
    throw atLine(inst, e);
  }
}

/** Cache key input of the mounts' sources: bind sources' content (context) or image (stages); caches never count. */
export async function mountSourcesKey(mounts: readonly RunMount[], contextDir: string, ignore: PathFilter,
  from: (f: string) => { id: string }): Promise<string | undefined> {
  const parts: string[] = [];
  for (const m of mounts) {
    if (m.type !== 'bind') continue;
    parts.push(m.from !== undefined ? `${from(m.from).id}:${m.source ?? '.'}` :
      await hashSources(contextDir, [m.source ?? '.'], (rel) => ignore.matches(rel)).catch(() => 'missing'));
  }
  return parts.length ? parts.join('\n') : undefined;
}

/** Something the mount needs that the build did not get (a required secret or ssh id). */
export class MountInputError extends Error {}

/** A path in `root`, resolved inside it; must exist. */
function sourceIn(root: string, source: string | undefined, what: string): string {
  const rel = resolveInRoot(root, source ?? '.');
  const host = path.join(root, rel);
  if (!fs.existsSync(host)) throw new MountInputError(`${what}: ${source ?? '.'}: no such file or directory`);
  return host;
}

/** ssh-agent holding `keys`, listening on `sock`; stopped by the returned function. */
async function startAgent(sock: string, keys: Buffer[], dir: string): Promise<() => void> {
  const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  const stop = (): void => void agent.kill('SIGTERM');
  try {
    for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 20));
    for (const [i, key] of keys.entries()) {
      const file = path.join(dir, `key-${i}`);
      fs.writeFileSync(file, key, { mode: 0o600 });
      try {
        await run('ssh-add', [file], { env: { SSH_AUTH_SOCK: sock } });
      } finally {
        fs.rmSync(file, { force: true });
      }
    }
    return stop;
  } catch (e) {
    stop();
    throw new MountInputError(`cannot load the ssh key into an agent: ${(e as Error).message.split('\n')[0]}`);
  }
}

export async function prepareRunMounts(list: readonly RunMount[], env: MountEnv): Promise<PreparedMounts> {
  const out: PreparedMounts = { mounts: [], tmpfs: {}, env: [], targets: [], release: async () => undefined };
  const releases: Array<() => void | Promise<void>> = [];
  out.release = async () => {
    for (const r of releases.reverse()) await Promise.resolve(r()).catch(() => undefined);
    fs.rmSync(env.secretsDir, { recursive: true, force: true });
    fs.rmSync(env.scratch, { recursive: true, force: true });
  };
  const rootfsOf = async (from: string): Promise<{ root: string; id: string }> => {
    const src = env.source(from);
    const m = await mountRootfs(src.lowers, path.join(env.scratch, crypto.randomBytes(4).toString('hex')));
    releases.push(m.release);
    return { root: m.root, id: src.id };
  };
  const bind = (source: string, target: string, readOnly: boolean): void => {
    out.mounts.push({ Type: 'bind', Source: source, Target: target, ReadOnly: readOnly, BindOptions: { Propagation: 'rprivate' } });
    out.targets.push(target);
  };
  const fileIn = (name: string, data: Buffer, m: RunMount, defaultMode: number): string => {
    fs.mkdirSync(env.secretsDir, { recursive: true, mode: 0o700 });
    const file = path.join(env.secretsDir, name);
    fs.writeFileSync(file, data, { mode: 0o600 });
    fs.chownSync(file, m.uid ?? 0, m.gid ?? 0);
    fs.chmodSync(file, m.mode ?? defaultMode);
    return file;
  };
  try {
    for (const [i, m] of list.entries()) {
      switch (m.type) {
        case 'cache': {
          const from = m.from !== undefined ? await rootfsOf(m.from) : undefined;
          const cache = await env.cacheMounts.acquire({
            id: m.id || m.target, origin: from ? `${from.id}:${m.source ?? '/'}` : '', sharing: m.sharing ?? 'shared',
            mode: m.mode ?? 0o755, uid: m.uid ?? 0, gid: m.gid ?? 0,
            seed: from ? (dir) => run('cp', ['-a', '--', `${sourceIn(from.root, m.source, 'cache mount source')}/.`, dir]).then(() => undefined) : undefined,
          });
          releases.push(cache.release);
          bind(cache.dir, m.target, m.readOnly);
          break;
        }
        case 'bind': {
          const root = m.from !== undefined ? (await rootfsOf(m.from)).root : env.contextDir;
          let source = sourceIn(root, m.source, 'bind mount source');
          if (!m.readOnly) {
            // rw: the step may write, but what it writes is thrown away (BuildKit's copy-on-write snapshot)
            const copy = path.join(env.scratch, `rw-${i}`);
            fs.mkdirSync(env.scratch, { recursive: true });
            await run('cp', ['-a', '--', source, copy]);
            source = copy;
          }
          bind(source, m.target, m.readOnly);
          break;
        }
        case 'tmpfs':
          out.tmpfs[m.target] = `exec${m.size !== undefined ? `,size=${m.size}` : ''}`;
          out.targets.push(m.target);
          break;
        case 'secret': {
          const value = env.secrets.get(m.id as string);
          if (value === undefined) {
            if (m.required) throw new MountInputError(`secret ${m.id}: not found (give it with --secret id=${m.id},src=FILE or env=VAR)`);
            break;
          }
          if (m.target) bind(fileIn(`secret-${i}`, value, m, 0o400), m.target, true);
          if (m.env) out.env.push(`${m.env}=${value.toString('utf8')}`);
          break;
        }
        case 'ssh': {
          const src = env.ssh.get(m.id as string);
          if (!src) {
            if (m.required) throw new MountInputError(`no SSH key ${JSON.stringify(m.id)} forwarded from the client (give it with --ssh ${m.id}=SOCKET|KEYFILE)`);
            break;
          }
          let sock: string;
          if ('socket' in src) sock = src.socket;
          else {
            fs.mkdirSync(env.secretsDir, { recursive: true, mode: 0o700 });
            sock = path.join(env.secretsDir, `agent-${i}.sock`);
            releases.push(await startAgent(sock, src.keys, env.secretsDir));
          }
          if (!fs.statSync(sock, { throwIfNoEntry: false })?.isSocket()) throw new MountInputError(`ssh ${m.id}: ${sock} is not a socket`);
          bind(sock, m.target, false);
          out.env.push(`SSH_AUTH_SOCK=${m.target}`);
          break;
        }
      }
    }
    return out;
  } catch (e) {
    await out.release();
    throw e;
  }
}

/** Paths a container runtime creates as mount points: not part of a RUN layer when the image lacks them and they are empty. */
const RUNTIME_TARGETS = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys'];

/** An empty file, or a directory holding only such (`skipChild`), as a runtime leaves mount points it had to create. */
function isEmptyMountTarget(p: string, skipChild: (name: string) => boolean): boolean {
  const st = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!st) return false;
  if (st.isFile()) return st.size === 0;
  if (st.isDirectory()) return fs.readdirSync(p).every(skipChild);
  return false;
}

/**
 * The diff filter of a RUN layer: mount points (the runtime's and the step's mounts, with the parents made for them)
 * that the image did not have and that are still empty stubs in the upper dir are left out, as BuildKit does.
 */
export function stubSkipper(lowers: readonly string[], upper: string, mountTargets: readonly string[]): (rel: string) => boolean {
  const stubs = new Set<string>();
  for (const t of [...RUNTIME_TARGETS, ...mountTargets]) {
    const parts = t.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) stubs.add(parts.slice(0, i).join('/'));
  }
  const skip = (rel: string): boolean => stubs.has(rel) && !lowers.some((l) => fs.existsSync(path.join(l, rel))) &&
    isEmptyMountTarget(path.join(upper, rel), (child) => skip(`${rel}/${child}`));
  return skip;
}
