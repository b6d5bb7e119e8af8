/**
 * `cp`: docker's copy semantics over GET/PUT/HEAD /containers/{id}/archive. The tar is made and unpacked on this
 * side with GNU tar; its top entry is renamed (--transform) when the destination names a new file or directory.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EngineError, type EngineClient } from '../../client/engine';
import { StatusError, type Command } from '../cli';

interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

const GO_DIR = 2 ** 31;

/** "ctr:/path" -> [ctr, path]; a local path (also one with ':' after a '/') -> [undefined, path]. */
export function splitCpArg(arg: string): [string | undefined, string] {
  if (path.isAbsolute(arg) || arg.startsWith('.')) return [undefined, arg];
  const i = arg.indexOf(':');
  if (i <= 0 || arg.slice(0, i).includes('/')) return [undefined, arg];
  return [arg.slice(0, i), arg.slice(i + 1)];
}

const escapeRe = (s: string): string => s.replace(/[\\^$.*[\]|]/g, (c) => '\\' + c);

/** GNU tar's --transform renaming the top entry `from` to `to` (nothing when they are equal). */
const renameTop = (from: string, to: string): string[] =>
  from === to ? [] : ['--transform', `s|^${escapeRe(from)}\\($\\|/\\)|${to.replace(/[\\|&]/g, (c) => '\\' + c)}\\1|`];

function runTar(args: string[], stdin: 'pipe' | 'ignore'): { proc: ReturnType<typeof spawn>; done: Promise<void> } {
  const proc = spawn('tar', args, { stdio: [stdin, stdin === 'pipe' ? 'ignore' : 'pipe', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `tar exited with status ${code}`))));
  });
  return { proc, done };
}

async function statInContainer(client: EngineClient, ctr: string, p: string): Promise<PathStat | undefined> {
  try {
    const res = await client.stream('HEAD', `/containers/${ctr}/archive`, { query: { path: p } });
    res.resume();
    const h = res.headers['x-docker-container-path-stat'];
    return typeof h === 'string' ? (JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as PathStat) : undefined;
  } catch (e) {
    if (e instanceof EngineError && e.status === 404) {
      // HEAD has no body: tell a missing container from a missing path
      await client.request('GET', `/containers/${ctr}/json`);
      return undefined;
    }
    throw e;
  }
}

async function copyFromContainer(client: EngineClient, ctr: string, src: string, dst: string, o: { follow: boolean; archive: boolean }): Promise<void> {
  let srcPath = src;
  if (o.follow) {
    const st = await statInContainer(client, ctr, src);
    if (st?.linkTarget) srcPath = st.linkTarget;
  }
  let res;
  try {
    res = await client.stream('GET', `/containers/${ctr}/archive`, { query: { path: srcPath } });
  } catch (e) {
    if (e instanceof EngineError && e.status === 404 && /Could not find the file/.test(e.message)) throw new Error(`Error: No such container:path: ${ctr}:${src}`);
    throw e;
  }
  const header = res.headers['x-docker-container-path-stat'];
  const stat = JSON.parse(Buffer.from(String(header), 'base64').toString('utf8')) as PathStat;
  if (dst === '-') {
    await pipeline(res, process.stdout as Writable, { end: false });
    return;
  }
  const srcIsDir = (stat.mode & GO_DIR) !== 0;
  const dstStat = fs.statSync(dst, { throwIfNoEntry: false });
  let dir: string;
  let name: string;
  if (dstStat?.isDirectory() && !(src.endsWith('/.') && srcIsDir)) {
    dir = dst;
    name = stat.name;
  } else if (dstStat?.isDirectory()) {
    dir = dst;
    name = '.';
  } else {
    if (dst.endsWith('/')) throw new Error(`destination directory "${dst}" must exist`);
    if (dstStat && srcIsDir) throw new Error(`cannot copy a directory to a file: ${dst}`);
    dir = path.dirname(dst);
    name = path.basename(dst);
    if (!fs.existsSync(dir)) throw new Error(`destination directory "${dir}" must exist`);
    if (stat.name === '.') {
      // "dir/." into a new directory: its contents land in the new one
      fs.mkdirSync(dst);
      dir = dst;
    }
  }
  const args = ['-x', '-f', '-', '-C', dir, ...(o.archive ? ['--same-owner'] : ['--no-same-owner'])];
  if (stat.name !== '.' && name !== '.') args.push(...renameTop(stat.name, name));
  const tar = runTar(args, 'pipe');
  await Promise.all([pipeline(res, tar.proc.stdin as Writable), tar.done]);
}

async function copyToContainer(client: EngineClient, src: string, ctr: string, dst: string, o: { follow: boolean; archive: boolean }): Promise<void> {
  const put = (dir: string, body: Readable) =>
    client.request('PUT', `/containers/${ctr}/archive`, {
      query: { path: dir, noOverwriteDirNonDir: true, copyUIDGID: o.archive ? true : undefined },
      body,
      contentType: 'application/x-tar',
    });
  if (src === '-') {
    await put(dst, process.stdin);
    return;
  }
  const local = o.follow ? fs.realpathSync(src) : src;
  const lst = fs.lstatSync(local, { throwIfNoEntry: false });
  if (!lst) throw new Error(`stat ${src}: no such file or directory`);
  const dstStat = await statInContainer(client, ctr, dst);
  const dstIsDir = dstStat !== undefined && ((dstStat.mode & GO_DIR) !== 0 || (dstStat.linkTarget !== '' && dst.endsWith('/')));
  const base = path.basename(path.resolve(local));
  let dir: string;
  let name: string;
  if (dstIsDir) {
    dir = dst;
    name = src.endsWith('/.') && lst.isDirectory() ? '.' : base;
  } else {
    if (dst.endsWith('/')) throw new Error(`destination directory "${ctr}:${dst}" must exist`);
    if (dstStat && lst.isDirectory()) throw new Error(`cannot copy a directory to a file: ${ctr}:${dst}`);
    dir = path.posix.dirname(dst);
    name = path.posix.basename(dst);
  }
  const args = name === '.' ? ['-c', '-f', '-', '-C', local, '.'] : ['-c', '-f', '-', '-C', path.dirname(path.resolve(local)), ...renameTop(base, name), base];
  const tar = runTar(args, 'ignore');
  await Promise.all([put(dir, tar.proc.stdout as Readable), tar.done]);
}

export const cp: Command = {
  use: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-',
  short: 'Copy files/folders between a container and the local filesystem',
  flags: [
    { name: 'archive', short: 'a', kind: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', kind: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
  ],
  args: [2, 2],
  async run(ctx, o) {
    const [from, to] = o.args;
    if (from === '') throw new StatusError(1, 'source can not be empty');
    if (to === '') throw new StatusError(1, 'destination can not be empty');
    const [sc, sp] = splitCpArg(from);
    const [dc, dp] = splitCpArg(to);
    if (sc && dc) throw new StatusError(1, 'copying between containers is not supported');
    if (!sc && !dc) throw new StatusError(1, 'must specify at least one container source');
    const opts = { follow: o.values['follow-link'] as boolean, archive: o.values.archive as boolean };
    const client = await ctx.client();
    if (sc) await copyFromContainer(client, sc, sp, dp, opts);
    else await copyToContainer(client, sp, dc as string, dp, opts);
  },
};
