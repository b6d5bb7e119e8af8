/**
 * `berth build` (and `image build`): docker's legacy build client. The context (a directory with .dockerignore
 * applied here, as docker's CLI does; a tar or a lone Dockerfile on stdin) goes to POST /build as a tar; a Dockerfile
 * outside the context (or `-f -`) travels inside the tar under a random name that .dockerignore then hides from COPY.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { IgnoreMatcher, parseDockerignore } from '../../build/context';
import { StatusError, type Command } from '../cli';
import { humanSize } from '../../common/units';
import { absoluteCachePaths, parseCacheSpec, parseOutputSpec } from '../../build/buildflags';
import { addEntry, addHostPath } from '../tarpack';
import { sessionHeaders, writeOutput } from './build-output';
import { displayJsonMessages, JsonStreamError } from './progress';

const cachePaths = (values: string[]): string[] => values.map((v) => absoluteCachePaths(v, process.cwd()));

export const build: Command = {
  use: 'build [OPTIONS] PATH | URL | -',
  short: 'Build an image from a Dockerfile',
  flags: [
    { name: 'add-host', kind: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'build-arg', kind: 'list', usage: 'Set build-time variables' },
    { name: 'cache-from', kind: 'list', varname: 'strings', usage: 'External cache sources (e.g., "user/app:cache", "type=local,src=path/to/dir")',
      check: (v) => void parseCacheSpec(absoluteCachePaths(v, process.cwd()), 'cache-from') },
    { name: 'cache-to', kind: 'list', usage: 'Cache export destinations (e.g., "type=registry,ref=user/app:cache", "type=local,dest=path/to/dir", "type=inline")',
      check: (v) => void parseCacheSpec(absoluteCachePaths(v, process.cwd()), 'cache-to') },
    { name: 'file', short: 'f', kind: 'string', usage: "Name of the Dockerfile (Default is 'PATH/Dockerfile')" },
    { name: 'force-rm', kind: 'bool', usage: 'Always remove intermediate containers' },
    { name: 'iidfile', kind: 'string', usage: 'Write the image ID to the file' },
    { name: 'label', kind: 'list', usage: 'Set metadata for an image' },
    { name: 'network', kind: 'string', usage: 'Set the networking mode for the RUN instructions during build', default: 'default' },
    { name: 'no-cache', kind: 'bool', usage: 'Do not use cache when building the image' },
    { name: 'platform', kind: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'progress', kind: 'string', usage: 'Set type of progress output ("auto", "plain", "tty", "quiet")', default: 'auto',
      check: (v) => {
        if (!['auto', 'plain', 'tty', 'quiet'].includes(v)) throw new Error(`invalid progress mode ${JSON.stringify(v)}: use auto, plain, tty or quiet`);
      } },
    { name: 'output', short: 'o', kind: 'string', usage: 'Output destination (format: "type=local,dest=path")',
      check: (v) => void parseOutputSpec(v) },
    { name: 'metadata-file', kind: 'string', usage: 'Write build result metadata to a file' },
    { name: 'secret', kind: 'list', usage: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")' },
    { name: 'ssh', kind: 'list', usage: 'SSH agent socket or keys to expose to the build (format: "default|<id>[=<socket>|<key>[,<key>]]")' },
    { name: 'pull', kind: 'bool', usage: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress the build output and print image ID on success' },
    { name: 'rm', kind: 'bool', usage: 'Remove intermediate containers after a successful build', default: true },
    { name: 'tag', short: 't', kind: 'list', usage: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'target', kind: 'string', usage: 'Set the target build stage to build.' },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const v = o.values;
    const ctxArg = o.args[0];
    const file = v.file as string;
    if (ctxArg === '-' && file === '-') throw new StatusError(1, 'invalid argument: can\'t use stdin for both build context and dockerfile');
    if (/^(https?|git):\/\/|^git@/.test(ctxArg)) throw new StatusError(1, `remote build contexts are not supported: ${ctxArg}`);

    let body: Readable;
    let dockerfile: string;
    if (ctxArg === '-') {
      ({ body, dockerfile } = await stdinContext(file));
    } else {
      if (!fs.statSync(ctxArg, { throwIfNoEntry: false })?.isDirectory()) {
        throw new StatusError(1, `unable to prepare context: path ${JSON.stringify(ctxArg)} not found`);
      }
      ({ body, dockerfile } = await dirContext(ctxArg, file));
    }

    const client = await ctx.client();
    let sent = 0;
    const counted = new PassThrough();
    counted.on('data', (c: Buffer) => (sent += c.length));
    body.pipe(counted);
    const output = v.output ? parseOutputSpec(v.output as string) : undefined;
    // BuildKit prints no progress when the result itself goes to stdout
    const quiet = (v.quiet as boolean) || v.progress === 'quiet';
    // With the result on stdout (-o -), progress goes to stderr, as BuildKit's
    const progressOut = output !== undefined && 'dest' in output && output.dest === '-' ? process.stderr : process.stdout;
    let imageId = '';
    try {
      const messages = client.ndjson('POST', '/build', {
        query: {
          t: v.tag as string[], dockerfile, buildargs: buildArgs(v['build-arg'] as string[]), labels: keyValues(v.label as string[]),
          target: (v.target as string) || undefined, nocache: v['no-cache'] ? 1 : undefined, q: quiet ? 1 : undefined,
          rm: v.rm ? 1 : 0, forcerm: v['force-rm'] ? 1 : undefined, pull: v.pull ? 1 : undefined,
          networkmode: v.network as string, extrahosts: (v['add-host'] as string[]).length ? v['add-host'] as string[] : undefined,
          cachefrom: (v['cache-from'] as string[]).length ? JSON.stringify(cachePaths(v['cache-from'] as string[])) : undefined,
          cacheto: (v['cache-to'] as string[]).length ? JSON.stringify(cachePaths(v['cache-to'] as string[])) : undefined,
          platform: (v.platform as string) || undefined, version: '1',
        },
        body: counted,
        contentType: 'application/x-tar',
        headers: { 'X-Registry-Config': 'e30=', ...sessionHeaders(v.secret as string[], v.ssh as string[]) },
        onSent: () => {
          if (!quiet) progressOut.write(`Sending build context to Berth daemon  ${humanSize(sent)}\n`);
        },
      });
      // the ID comes as aux, or (Docker's quiet legacy build) only as the stream's text
      async function* tapped(): AsyncGenerator<unknown> {
        for await (const m of messages) {
          const text = (m as { stream?: unknown })?.stream;
          if (typeof text === 'string' && /^sha256:[0-9a-f]{64}\n$/.test(text)) imageId ||= text.trim();
          yield m;
        }
      }
      await displayJsonMessages(tapped(), progressOut, (aux) => {
        const id = (aux as { ID?: string })?.ID;
        if (id) imageId = id;
      });
    } catch (e) {
      if (e instanceof JsonStreamError) throw new StatusError(e.code ?? 1, e.message);
      throw e;
    }
    if (v.iidfile && imageId) fs.writeFileSync(v.iidfile as string, imageId);
    if (output) await writeOutput(client, imageId, output);
    if (v['metadata-file']) {
      const tags = v.tag as string[];
      fs.writeFileSync(v['metadata-file'] as string, JSON.stringify({
        'containerimage.config.digest': imageId, ...(tags.length ? { 'image.name': tags.join(',') } : {}),
      }, null, 2) + '\n');
    }
  },
};

/** --build-arg K=V, or K alone: the value from this environment (left out when unset). SOURCE_DATE_EPOCH is passed on. */
function buildArgs(list: string[]): string | undefined {
  const out: Record<string, string> = {};
  if (process.env.SOURCE_DATE_EPOCH) out.SOURCE_DATE_EPOCH = process.env.SOURCE_DATE_EPOCH;
  for (const a of list) {
    const i = a.indexOf('=');
    if (i >= 0) out[a.slice(0, i)] = a.slice(i + 1);
    else if (process.env[a] !== undefined) out[a] = process.env[a] as string;
  }
  return Object.keys(out).length ? JSON.stringify(out) : undefined;
}

function keyValues(list: string[]): string | undefined {
  if (!list.length) return undefined;
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    out[i < 0 ? l : l.slice(0, i)] = i < 0 ? '' : l.slice(i + 1);
  }
  return JSON.stringify(out);
}

async function readStdin(): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A tar (plain or compressed) rather than a Dockerfile? */
function looksLikeArchive(head: Buffer): boolean {
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return true;
  return (head[0] === 0x1f && head[1] === 0x8b) || head.toString('latin1', 0, 3) === 'BZh' ||
    head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
}

/** `build -`: stdin is the context tar (the Dockerfile named by -f inside it), or a lone Dockerfile. */
async function stdinContext(file: string): Promise<{ body: Readable; dockerfile: string }> {
  const data = await readStdin();
  if (looksLikeArchive(data)) return { body: Readable.from([data]), dockerfile: file || 'Dockerfile' };
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile', mode: 0o644, mtime: new Date(), size: data.length }, data);
  pack.finalize();
  return { body: Readable.from(pack), dockerfile: 'Dockerfile' };
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The context directory as a tar: sorted, .dockerignore applied (the Dockerfile and .dockerignore are always sent),
 * symlinks as symlinks. A Dockerfile from elsewhere is added under a random name hidden by .dockerignore.
 */
async function dirContext(dir: string, file: string): Promise<{ body: Readable; dockerfile: string }> {
  const root = path.resolve(dir);
  let extra: { name: string; data: Buffer } | undefined;
  let dockerfile = 'Dockerfile';
  if (file === '-') extra = { name: '', data: await readStdin() };
  else if (file) {
    const abs = path.resolve(file);
    const rel = path.relative(root, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      try {
        extra = { name: '', data: fs.readFileSync(abs) };
      } catch {
        throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${abs}: no such file or directory`);
      }
    } else dockerfile = rel.split(path.sep).join('/');
  }
  if (!extra && !fs.existsSync(path.join(root, dockerfile))) {
    throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${path.join(root, dockerfile)}: no such file or directory`);
  }
  let ignoreText = fs.existsSync(path.join(root, '.dockerignore')) ? fs.readFileSync(path.join(root, '.dockerignore'), 'utf8') : undefined;
  const patterns = ignoreText === undefined ? [] : parseDockerignore(ignoreText);
  let matcher: IgnoreMatcher;
  try {
    matcher = new IgnoreMatcher([...patterns, ...(patterns.length ? [`!${dockerfile}`, '!.dockerignore'] : [])]);
  } catch (e) {
    throw new StatusError(1, `Error checking context: ${(e as Error).message}`);
  }
  if (extra) {
    extra.name = `.dockerfile.${randomBytes(10).toString('hex')}`;
    dockerfile = extra.name;
    ignoreText = `${ignoreText ?? ''}\n${extra.name}\n`;
  }
  const pack = tarStream.pack();
  const add = (h: Partial<tarStream.Header> & { name: string }, data?: Buffer): Promise<void> => addEntry(pack, h, data);
  const addFile = async (rel: string, st: fs.Stats, abs: string): Promise<void> => {
    if (rel === '.dockerignore' && st.isFile() && ignoreText !== undefined) {
      return add({ name: rel, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0, size: Buffer.byteLength(ignoreText) }, Buffer.from(ignoreText));
    }
    return addHostPath(pack, rel, abs, st);
  };
  const walk = async (rel: string): Promise<void> => {
    const names = fs.readdirSync(path.join(root, rel)).sort(byName);
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      const ignored = matcher.matches(r);
      if (!ignored) await addFile(r, st, abs);
      // An ignored directory may still hold re-included paths (`!` patterns): look inside then.
      if (st.isDirectory() && (!ignored || matcher.mayReinclude(r))) await walk(r);
    }
  };
  (async () => {
    await walk('');
    if (extra) {
      if (ignoreText !== undefined && !fs.existsSync(path.join(root, '.dockerignore'))) {
        await add({ name: '.dockerignore', mode: 0o644, mtime: new Date(), size: Buffer.byteLength(ignoreText) }, Buffer.from(ignoreText));
      }
      await add({ name: extra.name, mode: 0o600, mtime: new Date(), size: extra.data.length }, extra.data);
    }
    pack.finalize();
  })().catch((e: Error) => pack.destroy(e));
  return { body: Readable.from(pack), dockerfile };
}
