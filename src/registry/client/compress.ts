/**
 * Layer compression for push: gzip, fast and deterministic. Input is cut into fixed 1 MiB blocks; a block whose sample
 * does not compress (random data, already-compressed files) goes as stored deflate blocks, others are deflated at level 1
 * (several at once, on libuv's thread pool) and sync-flushed, so the pieces join into one deflate stream. The output
 * depends on the bytes only: the same layer always gives the same gzip blob (stable digests across pushes).
 */
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const BLOCK = 1 << 20;
const SAMPLE = 64 << 10;
/** A sample that shrinks by less than this is not worth compressing. */
const WORTH = 0.97;

/** A byte stream re-cut into chunks of exactly `size` bytes (the last may be shorter). */
export async function* fixedChunks(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let len = 0;
  for await (const chunk of src) {
    let c = chunk;
    while (len + c.length >= size) {
      const take = size - len;
      parts.push(c.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      len = 0;
      c = c.subarray(take);
    }
    if (c.length) {
      parts.push(c);
      len += c.length;
    }
  }
  if (len) yield Buffer.concat(parts);
}

export function levelFor(block: Buffer): 0 | 1 {
  const sample = block.subarray(0, SAMPLE);
  return zlib.deflateRawSync(sample, { level: 1 }).length < sample.length * WORTH ? 1 : 0;
}

const deflateRaw = promisify<Buffer, zlib.ZlibOptions, Buffer>(zlib.deflateRaw);
/** Blocks deflated at the same time. */
const PARALLEL = 4;
/** gzip header: deflate, no name, no mtime, OS unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
/** The last deflate block: empty, stored, final. */
const FINAL_BLOCK = Buffer.from([1, 0, 0, 0xff, 0xff]);
const STORED_MAX = 0xffff;

/** `data` as non-final stored deflate blocks (the stream is byte-aligned after a sync flush or another stored block). */
export function storedBlocks(data: Buffer): Buffer {
  const n = Math.max(1, Math.ceil(data.length / STORED_MAX));
  const out = Buffer.allocUnsafe(data.length + 5 * n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const piece = data.subarray(i * STORED_MAX, (i + 1) * STORED_MAX);
    out[o] = 0;
    out.writeUInt16LE(piece.length, o + 1);
    out.writeUInt16LE(~piece.length & 0xffff, o + 3);
    piece.copy(out, o + 5);
    o += 5 + piece.length;
  }
  return out;
}

const deflateBlock = (block: Buffer): Promise<Buffer> =>
  levelFor(block) === 0 ? Promise.resolve(storedBlocks(block)) : deflateRaw(block, { level: 1, finishFlush: zlib.constants.Z_SYNC_FLUSH });

async function* gzipChunks(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield GZIP_HEADER;
  let crc = 0;
  let size = 0;
  const inFlight: Promise<Buffer>[] = [];
  for await (const block of fixedChunks(src, BLOCK)) {
    crc = zlib.crc32(block, crc);
    size += block.length;
    inFlight.push(deflateBlock(block));
    if (inFlight.length >= PARALLEL) yield await (inFlight.shift() as Promise<Buffer>);
  }
  for (const p of inFlight) yield await p;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  yield Buffer.concat([FINAL_BLOCK, trailer]);
}

/** A gzip stream of `src`. */
export function gzipLayer(src: Readable): Readable {
  return Readable.from(gzipChunks(src), { objectMode: false });
}
