/** One repository on a registry: manifests, blobs, uploads (monolithic, streamed or chunked), mounts, tags. */
import * as crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { sha256 } from '../../store/content';
import { MediaType } from '../../image/types';
import { repoScope } from './auth';
import { fixedChunks } from './compress';
import { PullError } from './pull';
import { RegistryHttpError, type RegistrySession } from './session';

const SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
/** What docker sends in Accept for manifests (the v1 types only so that old registries answer, then refused here). */
export const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList, SCHEMA1, 'application/json'];
/** docker's cap on manifests and indexes (distribution's too): read no further, whatever Content-Length says. */
export const MANIFEST_LIMIT = 4 << 20;
/** Image configs and tag list pages are small too; a larger one is refused rather than read into memory. */
const CONFIG_LIMIT = 8 << 20;
const TAGS_LIMIT = 4 << 20;
/** Digest algorithms a manifest may be fetched by (go-digest's); blobs are stored by sha256 only. */
const MANIFEST_ALGORITHMS = new Set(['sha256', 'sha384', 'sha512']);

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

export interface UploadResult {
  digest: string;
  size: number;
}

export interface UploadOptions {
  /** Send the stream in PATCH requests of at most this many bytes (with Content-Range); default one streamed PATCH. */
  chunkSize?: number;
  /** Called with the bytes sent so far. */
  onBytes?: (n: number) => void;
}

const GENERIC_TYPES: ReadonlySet<string> = new Set(['application/json', 'text/plain', 'application/octet-stream']);

/** The media type a manifest says it is, from its body when the registry's Content-Type is generic. */
export function manifestMediaType(bytes: Buffer, contentType: string | undefined): string {
  let body: { mediaType?: string; manifests?: unknown; layers?: unknown; fsLayers?: unknown; schemaVersion?: number } | null = {};
  try {
    body = JSON.parse(bytes.toString('utf8')) as typeof body;
  } catch {
    throw new PullError('the registry returned a manifest that is not JSON', 400);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PullError('the registry returned a manifest that is not a JSON object', 400);
  // The registry's Content-Type names the type, as containerd reads it; only a generic one defers to the body.
  const ct = (contentType ?? '').split(';')[0].trim();
  if (ct && !GENERIC_TYPES.has(ct)) return ct;
  if (body.mediaType) return body.mediaType;
  if (body.schemaVersion === 1 || body.fsLayers) return SCHEMA1;
  if (body.manifests) return MediaType.ociIndex;
  return MediaType.ociManifest;
}

export class RemoteRepository {
  readonly scope: string;

  constructor(readonly session: RegistrySession, readonly path: string, push = false) {
    this.scope = repoScope(path, push);
  }

  /**
   * GET a manifest by tag or digest (sha256, sha384 or sha512: verified against the bytes, and then its digest).
   * `size`, from a descriptor, must be the number of bytes received.
   */
  async manifest(reference: string, size?: number): Promise<FetchedManifest> {
    const algorithm = reference.includes(':') ? reference.slice(0, reference.indexOf(':')) : undefined;
    if (algorithm !== undefined && !MANIFEST_ALGORITHMS.has(algorithm)) throw new PullError(`unsupported digest algorithm in ${reference}`, 400);
    const res = await this.session.request('GET', `/v2/${this.path}/manifests/${reference}`, { scope: this.scope, headers: { Accept: MANIFEST_ACCEPT.join(', ') } });
    const bytes = await readLimited(res, MANIFEST_LIMIT, 'manifest');
    if (size !== undefined && bytes.length !== size) throw new PullError(`manifest ${reference} is ${bytes.length} bytes, but its descriptor says ${size}`, 400);
    let digest = sha256(bytes);
    if (algorithm !== undefined) {
      if (`${algorithm}:${crypto.createHash(algorithm).update(bytes).digest('hex')}` !== reference) throw new PullError(`manifest verification failed for digest ${reference}`, 400);
      digest = reference;
    }
    return { bytes, digest, mediaType: manifestMediaType(bytes, res.headers['content-type']) };
  }

  /** A small blob (config) read whole and verified against its digest and, when given, its descriptor's size. */
  async smallBlob(digest: string, size?: number): Promise<Buffer> {
    const bytes = await readLimited(await this.blob(digest), CONFIG_LIMIT, 'config');
    if (sha256(bytes) !== digest) throw new PullError(`blob ${digest} failed digest verification`, 400);
    if (size !== undefined && bytes.length !== size) throw new PullError(`config ${digest} is ${bytes.length} bytes, but the manifest says ${size}`, 400);
    return bytes;
  }

  blob(digest: string): Promise<IncomingMessage> {
    return this.session.request('GET', `/v2/${this.path}/blobs/${digest}`, { scope: this.scope });
  }

  async hasBlob(digest: string): Promise<boolean> {
    const res = await this.session.request('HEAD', `/v2/${this.path}/blobs/${digest}`, { scope: this.scope, accept: [404] });
    res.resume();
    return res.statusCode === 200;
  }

  /** Cross-repository mount; false when the registry started an upload instead (which is cancelled). */
  async mount(digest: string, from: string): Promise<boolean> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.session.request('POST', `/v2/${this.path}/blobs/uploads/?${q}`, { scope: `${this.scope} ${repoScope(from, false)}` });
    res.resume();
    if (res.statusCode === 201) return true;
    if (res.headers.location) await this.session.request('DELETE', res.headers.location, { scope: this.scope, accept: [404] }).then((r) => r.resume(), () => undefined);
    return false;
  }

  /** Upload a blob: a Buffer in one PUT; a stream in PATCH requests, its digest computed on the way. */
  async upload(data: Buffer | Readable, opts: UploadOptions = {}): Promise<UploadResult> {
    let location = await this.startUpload();
    if (Buffer.isBuffer(data)) {
      const digest = sha256(data);
      await this.finish(location, digest, data);
      opts.onBytes?.(data.length);
      return { digest, size: data.length };
    }
    const hash = crypto.createHash('sha256');
    let size = 0;
    const counted = data.pipe(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          opts.onBytes?.(size);
          cb(null, chunk);
        },
      }),
    );
    data.on('error', (e) => counted.destroy(e));
    if (opts.chunkSize) {
      let offset = 0;
      for await (const chunk of fixedChunks(counted, opts.chunkSize)) {
        location = await this.patch(location, chunk, { 'Content-Range': `${offset}-${offset + chunk.length - 1}`, 'Content-Length': String(chunk.length) });
        offset += chunk.length;
      }
    } else {
      location = await this.patch(location, counted, {});
    }
    const digest = `sha256:${hash.digest('hex')}`;
    await this.finish(location, digest);
    return { digest, size };
  }

  private async startUpload(): Promise<string> {
    const res = await this.session.request('POST', `/v2/${this.path}/blobs/uploads/`, { scope: this.scope });
    res.resume();
    return this.location(res);
  }

  private async patch(location: string, body: Buffer | Readable, headers: Record<string, string>): Promise<string> {
    const res = await this.session.request('PATCH', location, { scope: this.scope, body, headers: { 'Content-Type': 'application/octet-stream', ...headers } });
    res.resume();
    return this.location(res);
  }

  private async finish(location: string, digest: string, body?: Buffer): Promise<void> {
    const u = new URL(location);
    u.searchParams.set('digest', digest);
    const res = await this.session.request('PUT', u.toString(), { scope: this.scope, body, headers: body ? { 'Content-Type': 'application/octet-stream' } : {} });
    res.resume();
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got && got !== digest) throw new Error(`registry stored blob ${got}, expected ${digest}`);
  }

  private location(res: IncomingMessage): string {
    const loc = res.headers.location;
    if (!loc) throw new RegistryHttpError(res.statusCode ?? 0, 'UNKNOWN', `${this.session.host} answered an upload without a Location header`);
    return new URL(loc, this.session.base).toString();
  }

  /** PUT a manifest; returns its digest (checked against the registry's Docker-Content-Digest). */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.session.request('PUT', `/v2/${this.path}/manifests/${reference}`, { scope: this.scope, body: bytes, headers: { 'Content-Type': mediaType } });
    res.resume();
    const digest = sha256(bytes);
    const got = res.headers['docker-content-digest'];
    if (typeof got === 'string' && got && got !== digest) throw new Error(`registry stored manifest ${got}, expected ${digest}`);
    return digest;
  }

  /** Every tag, following `Link` pagination. */
  async tags(): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `/v2/${this.path}/tags/list`;
    while (next) {
      const res = await this.session.request('GET', next, { scope: this.scope });
      const body = JSON.parse((await readLimited(res, TAGS_LIMIT, 'tag list')).toString('utf8')) as { tags?: string[] | null };
      out.push(...(body.tags ?? []));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? link[1] : undefined;
    }
    return out;
  }
}

/** Read a reply whole, but stop at `max` bytes: Content-Length is only a claim (or absent, with chunked replies). */
async function readLimited(res: IncomingMessage, max: number, what: string): Promise<Buffer> {
  const tooLarge = (): Error => {
    res.destroy();
    return new PullError(`${what} is larger than the ${max} bytes allowed`, 400);
  };
  if (Number(res.headers['content-length'] ?? 0) > max) throw tooLarge();
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    got += chunk.length;
    if (got > max) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
