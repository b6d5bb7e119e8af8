/** Layer blob compression: sniffed from magic bytes, never trusted from a media type. */
import * as fs from 'node:fs';
import { Readable, Transform, pipeline } from 'node:stream';
import { bytesSize } from '../common/units';
import * as zlib from 'node:zlib';
import { pipeThrough } from './pipe';

export type Compression = 'gzip' | 'zstd' | 'none';

export function sniff(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** The compression of a stored file. */
export function sniffFile(file: string): Compression {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  try {
    return sniff(head.subarray(0, fs.readSync(fd, head, 0, 4, 0)));
  } finally {
    fs.closeSync(fd);
  }
}

/** Read the first bytes of a stream (at least `n` unless it ends) and give back a stream that still starts with them. */
async function peek(src: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    parts.push(r.value);
    len += r.value.length;
  }
  const head = Buffer.concat(parts);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, stream: Readable.from(rest(), { objectMode: false }) };
}

function zstdDecompress(src: Readable): Readable {
  return pipeThrough(src, 'zstd', ['-dcq'], {
    name: 'zstd',
    spawnError: (e) => (e.code === 'ENOENT' ? new Error('zstd-compressed layer: the zstd program is not installed (apt-get install zstd)') : e),
  });
}

/** Bounds on what an untrusted compressed stream may expand to (a decompression bomb stops at them). */
export interface DecompressionLimits {
  /** Most bytes one stream may have once decompressed. */
  maxSize: number;
  /** Most decompressed bytes per compressed byte, checked once more than RATIO_GRACE bytes came out. */
  maxRatio: number;
}

/**
 * 64 GiB a layer (a 10 GB image passes) and 1000:1. gzip cannot do better than ~1030:1 (a run of zeros), so a gzip bomb
 * stops after RATIO_GRACE bytes, as does any zstd bomb; real layers, even with large zero-filled files, stay far below.
 */
export const DEFAULT_LIMITS: DecompressionLimits = { maxSize: 64 * 2 ** 30, maxRatio: 1000 };
export const RATIO_GRACE = 256 * 2 ** 20;

/** Count bytes in and out and stop with an error at the first limit crossed. */
function limited(compressed: Readable, out: Readable, compression: Compression, limits: DecompressionLimits): Readable {
  let bytesIn = 0;
  let bytesOut = 0;
  compressed.on('data', (c: Buffer) => (bytesIn += c.length));
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytesOut += chunk.length;
      if (bytesOut > limits.maxSize) {
        return cb(new Error(`decompressed data exceeds the limit of ${bytesSize(limits.maxSize)} (max-layer-size) after ${bytesIn} compressed bytes`));
      }
      if (compression !== 'none' && bytesOut > RATIO_GRACE && bytesOut > bytesIn * limits.maxRatio) {
        return cb(new Error(`refusing a likely decompression bomb: ${bytesIn} compressed bytes expanded to more than ${limits.maxRatio} times as many (max-layer-ratio)`));
      }
      cb(null, chunk);
    },
  });
  return pipeline(out, check, () => undefined);
}

/** The uncompressed bytes of a (possibly gzip or zstd compressed) tar stream, within `limits`. */
export async function decompressed(src: Readable, limits: DecompressionLimits = DEFAULT_LIMITS): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream } = await peek(src, 4);
  const compression = sniff(head);
  if (compression === 'none') return { stream: limited(stream, stream, compression, limits), compression };
  if (compression === 'zstd') return { stream: limited(stream, zstdDecompress(stream), compression, limits), compression };
  // 256 KiB output chunks: zlib's default 16 KiB makes gunzip of a big layer ~5x slower (per-chunk overhead)
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  return { stream: limited(stream, pipeline(stream, gunzip, () => undefined), compression, limits), compression };
}
