/**
 * Content store: immutable blobs by sha256 under <root>/content/blobs/sha256/<hex>. A blob appears under its digest
 * only after it was fully written, hashed, checked against what the caller expected, fsynced and renamed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fsyncDir } from '../common/atomic';
import type { Lease } from './leases';

export interface Expected {
  digest?: string;
  size?: number;
}

/** 'deferred': skip the fsyncs; the caller makes the write durable later (ImageStore.flush before its record). */
export type Durability = 'fsync' | 'deferred';

export interface BlobInfo {
  digest: string;
  size: number;
}

const digestRe = /^sha256:[a-f0-9]{64}$/;

/** A digest the store can hold: sha256, lowercase hex. */
export const isStorableDigest = (digest: string): boolean => digestRe.test(digest);

export function checkDigest(digest: string): string {
  if (!isStorableDigest(digest)) throw new Error(`invalid digest: ${JSON.stringify(digest)}`);
  return digest;
}

export const sha256 = (data: Buffer | string): string => `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;

export class ContentStore {
  readonly blobs: string;
  readonly ingestDir: string;
  /** A blob was written without fsync since the last ImageStore.flush. */
  dirty = false;

  constructor(root: string) {
    this.blobs = path.join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = path.join(root, 'content', 'ingest');
    fs.mkdirSync(this.blobs, { recursive: true });
    fs.mkdirSync(this.ingestDir, { recursive: true });
  }

  path(digest: string): string {
    return path.join(this.blobs, checkDigest(digest).slice(7));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  size(digest: string): number {
    return fs.statSync(this.path(digest)).size;
  }

  /** A fresh temp path in the ingest dir (removed by repair() after a crash). */
  tempPath(): string {
    return path.join(this.ingestDir, `${Date.now()}-${crypto.randomBytes(6).toString('hex')}`);
  }

  /** Write a blob from a stream or buffer; refuses (and leaves nothing) when the digest or size is not what was expected. */
  async ingest(src: Readable | Buffer, expected: Expected = {}, lease?: Lease, durability: Durability = 'fsync'): Promise<BlobInfo> {
    if (expected.digest) checkDigest(expected.digest);
    const tmp = this.tempPath();
    const fd = fs.openSync(tmp, 'wx', 0o644);
    const hash = crypto.createHash('sha256');
    let size = 0;
    try {
      const input = Buffer.isBuffer(src) ? Readable.from([src]) : src;
      for await (const chunk of input as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (expected.size !== undefined && size > expected.size) throw new Error(`blob is larger than the expected ${expected.size} bytes`);
        hash.update(chunk);
        await writeAll(fd, chunk);
      }
      if (durability === 'fsync') fs.fsyncSync(fd);
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    fs.closeSync(fd);
    return this.commit(tmp, `sha256:${hash.digest('hex')}`, size, expected, lease, durability);
  }

  /** Move an already-hashed temp file (from tempPath) into the store under its digest. */
  commit(tmp: string, digest: string, size: number, expected: Expected = {}, lease?: Lease, durability: Durability = 'fsync'): BlobInfo {
    try {
      if (expected.size !== undefined && size !== expected.size) throw new Error(`size mismatch: expected ${expected.size} bytes, got ${size}`);
      if (expected.digest && expected.digest !== digest) throw new Error(`digest mismatch: expected ${expected.digest}, got ${digest}`);
      lease?.add(`blob:${digest}`);
      if (this.has(digest)) {
        fs.rmSync(tmp, { force: true });
      } else {
        fs.renameSync(tmp, this.path(digest));
        if (durability === 'fsync') fsyncDir(this.blobs);
        else this.dirty = true;
      }
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    return { digest, size };
  }

  read(digest: string): Readable {
    return fs.createReadStream(this.path(digest));
  }

  /** Read a small blob (manifest, config) whole, verifying its digest. */
  readBuffer(digest: string): Buffer {
    const data = fs.readFileSync(this.path(digest));
    if (sha256(data) !== digest) throw new Error(`blob ${digest} is corrupt`);
    return data;
  }

  readJson<T>(digest: string): T {
    return JSON.parse(this.readBuffer(digest).toString('utf8')) as T;
  }

  delete(digest: string): void {
    fs.rmSync(this.path(digest), { force: true });
  }

  list(): string[] {
    return fs.readdirSync(this.blobs).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Remove every temp a crash may have left in ingest/. */
  clearIngest(): number {
    const names = fs.readdirSync(this.ingestDir);
    for (const n of names) fs.rmSync(path.join(this.ingestDir, n), { recursive: true, force: true });
    return names.length;
  }
}

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      if (off >= buf.length) return resolve();
      fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : step(off + n)));
    };
    step(0);
  });
}
