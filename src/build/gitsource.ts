/**
 * ADD of a git repository (BuildKit's `ADD https://host/repo.git#ref:subdir /dest`, `git://`, `file://`): what
 * counts as a git source, its ref and subdirectory (pure), and a checkout by the git CLI. Only this machine's
 * repositories are reached (file://, loopback hosts): a build never fetches from elsewhere.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { resolveInRoot } from '../common/rootpath';

const run = promisify(execFile);

export interface GitSource {
  /** The repository URL without the fragment. */
  remote: string;
  /** Branch, tag or commit; the remote's HEAD when absent. */
  ref?: string;
  /** Directory of the repository whose content is added. */
  subdir?: string;
}

/** BuildKit's rule: git://, git@, or an http(s) URL whose path ends in .git (before a #fragment). */
export function isGitURL(s: string): boolean {
  return /^git:\/\//.test(s) || /^git@/.test(s) || /^(https?|file):\/\/[^#]*\.git\/?(#.*)?$/i.test(s);
}

export function parseGitSource(s: string): GitSource {
  const hash = s.indexOf('#');
  const remote = hash < 0 ? s : s.slice(0, hash);
  const frag = hash < 0 ? '' : s.slice(hash + 1);
  const colon = frag.indexOf(':');
  const ref = (colon < 0 ? frag : frag.slice(0, colon)) || undefined;
  const subdir = colon < 0 ? undefined : path.posix.normalize(frag.slice(colon + 1)).replace(/^\/+|\/+$/g, '') || undefined;
  if (ref !== undefined && (ref.startsWith('-') || !/^[\w./-]+$/.test(ref))) throw new Error(`invalid git ref ${JSON.stringify(ref)} in ${s}`);
  if (subdir === '..' || subdir?.startsWith('../')) throw new Error(`invalid git subdirectory in ${s}: it leaves the repository`);
  return { remote, ref, subdir };
}

const isLoopback = (host: string): boolean => {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || (isIP(h) === 4 && h.startsWith('127.')) || h === '::1';
};

/** Refuses a remote off this machine, before anything is sent. */
export function checkGitRemote(remote: string): void {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw new Error(`git source ${remote}: only file://, git:// and http(s):// URLs of this machine are supported`);
  }
  if (url.protocol === 'file:') return;
  if (!['git:', 'http:', 'https:'].includes(url.protocol) || !isLoopback(url.hostname)) {
    throw new Error(`git source ${remote}: only repositories on this machine (file:// or a loopback host) are reached`);
  }
}

/** Clones `src` into `dir` and checks out its ref; returns the commit. `.git` stays only with `keepGitDir`. */
export async function fetchGit(src: GitSource, dir: string, keepGitDir: boolean): Promise<{ root: string; commit: string }> {
  checkGitRemote(src.remote);
  // no prompts, no ext:: or other transports, no hooks or config from the environment
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', HOME: dir, GIT_PROTOCOL_FROM_USER: '0' };
  const git = (args: string[]): Promise<{ stdout: string }> =>
    run('git', ['-c', 'protocol.allow=never', '-c', 'protocol.file.allow=always', '-c', 'protocol.git.allow=always',
      '-c', 'protocol.http.allow=always', '-c', 'protocol.https.allow=always', ...args], { env, maxBuffer: 16 << 20 });
  const repo = path.join(dir, 'repo');
  try {
    await git(['clone', '--quiet', '--no-checkout', '--', src.remote, repo]);
    await git(['-C', repo, 'checkout', '--quiet', src.ref ?? 'HEAD', '--']);
  } catch (e) {
    const msg = ((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n').pop();
    throw new Error(`failed to fetch git source ${src.remote}${src.ref ? `#${src.ref}` : ''}: ${msg}`);
  }
  const commit = (await git(['-C', repo, 'rev-parse', 'HEAD'])).stdout.trim();
  if (!keepGitDir) fs.rmSync(path.join(repo, '.git'), { recursive: true, force: true });
  // resolved inside the checkout: a symlinked subdir cannot lead out of it
  const root = src.subdir ? path.join(repo, resolveInRoot(repo, src.subdir)) : repo;
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`git source ${src.remote}: no directory ${src.subdir} at ${commit}`);
  return { root, commit };
}
