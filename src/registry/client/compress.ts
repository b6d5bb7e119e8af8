/**
 * Layer compression for push: gzip, fast and deterministic. Input is cut into fixed 1 MiB blocks; a block whose sample
 * does not compress (random data, already-compressed files) is stored (level 0), others use level 1. The choice depends
 * on the bytes only, so the same layer always gives the same gzip blob (stable digests across pushes).
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
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

/** A gzip stream of `src`. */
export function gzipLayer(src: Readable): Readable {
  const gz = zlib.createGzip({ level: 1, chunkSize: BLOCK });
  let level = 1;
  (async () => {
    for await (const block of fixedChunks(src, BLOCK)) {
      const want = levelFor(block);
      if (want !== level) {
        await new Promise<void>((resolve) => (gz as unknown as zlib.ZlibParams).params(want, zlib.constants.Z_DEFAULT_STRATEGY, () => resolve()));
        level = want;
      }
      if (!gz.write(block)) await once(gz, 'drain');
    }
    gz.end();
  })().catch((e: Error) => gz.destroy(e));
  src.on('error', (e) => gz.destroy(e));
  return gz;
}
