/**
 * The client side of `build --secret/--ssh/--output`. Secrets and ssh sources travel to berthd in the
 * X-Berth-Build-Secrets / X-Berth-Build-Ssh headers (base64 JSON; the legacy /build protocol has no session). Outputs
 * other than an image are made here from the built image through the API (GET /images/get), so they work the same
 * against any daemon: `local` and `tar` are the image's layers applied in order (whiteouts honoured), `oci` and
 * `docker` the saved archive (docker-archive with OCI layout).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { parseSecretSpec, parseSshSpec, type OutputSpec } from '../../build/buildflags';
import type { EngineClient } from '../../client/engine';
import { StatusError } from '../cli';

const run = promisify(execFile);
/** Node's default cap on request headers is 16 KiB; keep room for the rest of the request. */
const MAX_SESSION_HEADER = 12 * 1024;

function readOrFail(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new StatusError(1, `failed to read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Headers that carry `--secret` and `--ssh` to berthd. */
export function sessionHeaders(secrets: readonly string[], ssh: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const put = (name: string, value: Record<string, unknown>): void => {
    if (!Object.keys(value).length) return;
    const encoded = Buffer.from(JSON.stringify(value)).toString('base64');
    if (encoded.length > MAX_SESSION_HEADER) throw new StatusError(1, `${name === 'X-Berth-Build-Secrets' ? '--secret' : '--ssh'} values are too large (at most ${MAX_SESSION_HEADER / 1024 * 3 / 4} KiB in all)`);
    headers[name] = encoded;
  };
  const sec: Record<string, string> = {};
  for (const s of secrets) {
    let spec;
    try {
      spec = parseSecretSpec(s, process.env);
    } catch (e) {
      throw new StatusError(1, `invalid argument "${s}" for "--secret" flag: ${(e as Error).message}`);
    }
    if ('env' in spec) {
      const v = process.env[spec.env];
      if (v === undefined) throw new StatusError(1, `secret ${spec.id}: environment variable ${spec.env} is not set`);
      sec[spec.id] = Buffer.from(v).toString('base64');
    } else sec[spec.id] = readOrFail(spec.file, `secret ${spec.id}:`).toString('base64');
  }
  put('X-Berth-Build-Secrets', sec);
  const agents: Record<string, unknown> = {};
  for (const s of ssh) {
    let spec;
    try {
      spec = parseSshSpec(s);
    } catch (e) {
      throw new StatusError(1, `invalid argument "${s}" for "--ssh" flag: ${(e as Error).message}`);
    }
    const paths = spec.paths.length ? spec.paths : [process.env.SSH_AUTH_SOCK ?? ''];
    if (!paths[0]) throw new StatusError(1, `--ssh ${spec.id}: SSH_AUTH_SOCK is not set; give a socket or key file (--ssh ${spec.id}=PATH)`);
    const first = path.resolve(paths[0]);
    agents[spec.id] = paths.length === 1 && fs.statSync(first, { throwIfNoEntry: false })?.isSocket()
      ? { socket: first }
      : { keys: paths.map((p) => readOrFail(p, `ssh key of ${spec.id}:`).toString('base64')) };
  }
  put('X-Berth-Build-Ssh', agents);
  return headers;
}

/** The image's files, layer by layer, into `dest` (BuildKit's local exporter: the final stage's filesystem). */
async function applyLayers(saved: string, dest: string): Promise<void> {
  const manifest = JSON.parse(fs.readFileSync(path.join(saved, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
  fs.mkdirSync(dest, { recursive: true });
  for (const layer of manifest[0]?.Layers ?? []) {
    const file = path.join(saved, layer);
    const { stdout } = await run('tar', ['-tf', file], { maxBuffer: 256 * 1024 * 1024 });
    for (const name of stdout.split('\n').filter(Boolean)) {
      const base = path.posix.basename(name);
      if (!base.startsWith('.wh.')) continue;
      const dir = path.join(dest, path.posix.dirname(name));
      if (base === '.wh..wh..opq') for (const n of fs.readdirSync(dir, { withFileTypes: false }) as string[]) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
      else fs.rmSync(path.join(dir, base.slice(4)), { recursive: true, force: true });
    }
    await run('tar', ['-xf', file, '-C', dest, '--exclude=.wh.*', '--numeric-owner', '--same-permissions']);
  }
}

function exited(p: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`tar exited with status ${c}`)))));
}

/** Writes `--output` from the built image. */
export async function writeOutput(client: EngineClient, imageId: string, spec: OutputSpec): Promise<void> {
  if (spec.type === 'image') return;
  // a bare hex ID: Docker's save takes no "sha256:" prefix
  const save = await client.stream('GET', '/images/get', { query: { names: [imageId.replace(/^sha256:/, '')] } });
  if (spec.type === 'oci' || spec.type === 'docker') {
    await pipeline(save, spec.dest === '-' ? process.stdout : fs.createWriteStream(spec.dest));
    return;
  }
  const tmp = fs.mkdtempSync(path.join(spec.type === 'local' ? path.dirname(path.resolve(spec.dest)) : fs.realpathSync('/tmp'), '.berth-output-'));
  try {
    const saved = path.join(tmp, 'saved');
    fs.mkdirSync(saved);
    const untar = spawn('tar', ['-xf', '-', '-C', saved], { stdio: ['pipe', 'ignore', 'inherit'] });
    await Promise.all([pipeline(save, untar.stdin), exited(untar)]);
    if (spec.type === 'local') return await applyLayers(saved, spec.dest);
    const root = path.join(tmp, 'root');
    await applyLayers(saved, root);
    const tar = spawn('tar', ['-cf', '-', '-C', root, '--numeric-owner', '--sort=name', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await Promise.all([pipeline(tar.stdout, spec.dest === '-' ? process.stdout : fs.createWriteStream(spec.dest)), exited(tar)]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
