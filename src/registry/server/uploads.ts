/**
 * Blob upload sessions: chunks are appended to uploads/<id>/data while a running sha256 is kept in memory, so
 * completing a large upload does not re-read it. Only a verified, fsynced file is renamed into the blob store.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { log } from '../../common/log';
import { RegistryError } from './errors';
import type { Digest } from './names';
import type { RegistryStorage } from './storage';

/** Inclusive byte range of a chunk, from a Content-Range header. */
export interface ChunkRange {
  start: number;
  end: number;
}

/** A request body; its Content-Length, when sent, is checked against the size cap before anything is read. */
type Body = Readable & { headers?: Record<string, string | string[] | undefined> };

interface HashState {
  hash: Hash;
  size: number;
}

/** Serialise work per key (one upload session is never appended to by two requests at once). */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const tail = prev.then(() => new Promise<void>((r) => (release = r)));
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

const unknownUpload = (id: string): RegistryError => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { uuid: id });

async function hashFile(file: string, algorithm: string): Promise<Hash> {
  const hash = createHash(algorithm);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash;
}

export class Uploads {
  private readonly hashes = new Map<string, HashState>();
  private readonly mutex = new KeyedMutex();

  /** `maxBlobSize`: most bytes one upload may reach (SIZE_INVALID, 413 beyond). */
  constructor(private readonly storage: RegistryStorage, private readonly maxBlobSize = Infinity) {}

  /** Remove the sessions idle since `cutoff` (ms), each under its lock so that no request is working on it. */
  async purge(cutoff: number): Promise<void> {
    let removed = 0;
    for (const id of await this.storage.uploadIds()) {
      await this.mutex.run(id, async () => {
        if (!(await this.storage.uploadIdleSince(id, cutoff))) return;
        this.hashes.delete(id);
        await this.storage.removeUpload(id);
        removed++;
      });
    }
    if (removed) log.info('registry: removed abandoned uploads', { count: removed });
  }

  start(repo: string): Promise<string> {
    return this.storage.createUpload(repo);
  }

  /** Bytes received so far; BLOB_UPLOAD_UNKNOWN when the session does not exist for this repository. */
  async size(repo: string, id: string): Promise<number> {
    const size = await this.storage.uploadSize(repo, id);
    if (size === undefined) throw unknownUpload(id);
    return size;
  }

  /** Append a chunk; with a range it must start exactly where the upload ends (else 416). Returns the new size. */
  append(repo: string, id: string, body: Body, range?: ChunkRange): Promise<number> {
    return this.mutex.run(id, () => this.appendLocked(repo, id, body, range));
  }

  private async appendLocked(repo: string, id: string, body: Body, range?: ChunkRange): Promise<number> {
    const size = await this.size(repo, id);
    if (range && range.start !== size) {
      body.resume();
      throw new RegistryError('RANGE_INVALID', `chunk starts at ${range.start} but the upload has ${size} bytes`, { uuid: id, size });
    }
    const max = this.maxBlobSize;
    const tooLarge = (): RegistryError => new RegistryError('SIZE_INVALID', `blob upload exceeds the ${max} bytes this registry accepts`, { uuid: id, max }, 413);
    if (size + Number(body.headers?.['content-length'] ?? 0) > max) throw tooLarge();
    const file = this.storage.uploadData(id);
    let state = this.hashes.get(id);
    if (!state || state.size !== size) state = { hash: await hashFile(file, 'sha256'), size };
    const before = state.hash.copy();
    let received = 0;
    const hash = state.hash;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        if (size + received > max) return cb(tooLarge());
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, fs.createWriteStream(file, { flags: 'a' }));
      if (range && received !== range.end - range.start + 1) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range announces ${range.end - range.start + 1} bytes but ${received} arrived`, { uuid: id });
      }
    } catch (e) {
      // A broken or short chunk leaves the session exactly as it was, so the client can resend it.
      await fsp.truncate(file, size);
      this.hashes.set(id, { hash: before, size });
      throw e;
    }
    this.hashes.set(id, { hash, size: size + received });
    return size + received;
  }

  /**
   * Finish an upload: append the optional last chunk, verify the digest, fsync and move the data into the blob
   * store, link it to the repository. A digest mismatch cancels the session and stores nothing (DIGEST_INVALID).
   */
  complete(repo: string, id: string, digest: Digest, body?: Body, range?: ChunkRange): Promise<void> {
    return this.mutex.run(id, async () => {
      if (body) await this.appendLocked(repo, id, body, range);
      const size = await this.size(repo, id);
      const file = this.storage.uploadData(id);
      const state = this.hashes.get(id);
      const hash = digest.algorithm === 'sha256' && state?.size === size ? state.hash : await hashFile(file, digest.algorithm);
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      this.hashes.delete(id);
      if (actual !== digest.text) {
        await this.storage.removeUpload(id);
        throw new RegistryError('DIGEST_INVALID', 'provided digest did not match uploaded content', { expected: digest.text, actual });
      }
      const fh = await fsp.open(file, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.storage.commitBlob(file, digest);
      await this.storage.linkBlob(repo, digest);
      await this.storage.removeUpload(id);
    });
  }

  cancel(repo: string, id: string): Promise<void> {
    return this.mutex.run(id, async () => {
      await this.size(repo, id);
      this.hashes.delete(id);
      await this.storage.removeUpload(id);
    });
  }
}
