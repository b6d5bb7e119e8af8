/** Layer blob compression: sniffed from magic bytes, never trusted from a media type. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { PassThrough, Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';

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
  const out = new PassThrough();
  const child = spawn('zstd', ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (e: NodeJS.ErrnoException) =>
    out.destroy(e.code === 'ENOENT' ? new Error('zstd-compressed layer: the zstd program is not installed (apt-get install zstd)') : e),
  );
  child.stdin.on('error', () => undefined); // EPIPE when zstd fails; its exit status reports why
  src.on('error', (e) => out.destroy(e));
  src.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`zstd: ${stderr.trim() || `exit status ${code}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}

/** The uncompressed bytes of a (possibly gzip or zstd compressed) tar stream. */
export async function decompressed(src: Readable): Promise<{ stream: Readable; compression: Compression }> {
  const { head, stream } = await peek(src, 4);
  const compression = sniff(head);
  if (compression === 'none') return { stream, compression };
  if (compression === 'zstd') return { stream: zstdDecompress(stream), compression };
  // 256 KiB output chunks: zlib's default 16 KiB makes gunzip of a big layer ~5x slower (per-chunk overhead)
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  return { stream: pipeline(stream, gunzip, () => undefined), compression };
}
