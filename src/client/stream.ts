/** Stream framing used by the Engine API: NDJSON progress streams and 8-byte-header multiplexed output. */
import type { Readable } from 'node:stream';

/** Yields each non-blank line of a text stream (without its newline). */
export async function* readLines(src: Readable): AsyncGenerator<string> {
  let buf = '';
  src.setEncoding('utf8');
  for await (const chunk of src as AsyncIterable<string>) {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

/** Yields each JSON value of a newline-delimited JSON stream. */
export async function* readNdjson(src: Readable): AsyncGenerator<unknown> {
  for await (const line of readLines(src)) yield JSON.parse(line);
}

/** Stream ids in a multiplexed frame header (docker's stdcopy): 0 stdin and 1 stdout, 2 stderr, 3 a daemon error. */
export const STDERR = 2;
export const SYSERR = 3;

/**
 * Incremental parser of docker's multiplexed stream: each frame is [stream, 0, 0, 0, size(uint32 BE)] + payload.
 * Feed arbitrary chunks; complete frames are handed to `onFrame` (payloads may arrive split across chunks).
 */
export class FrameDemuxer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (stream: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      this.onFrame(this.pending[0], this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
    }
  }

  /** Bytes of an incomplete frame left over (non-zero at end of stream means the stream was cut). */
  get leftover(): number {
    return this.pending.length;
  }
}

/** Encodes one frame (used by tests and fakes; the daemon has its own writer). */
export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/**
 * Copies a multiplexed stream to two writables until it ends. Resolves when the source ends;
 * rejects on a system-error frame (stream 3) or a truncated frame.
 */
export function demultiplex(src: Readable, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    const d = new FrameDemuxer((stream, payload) => {
      if (stream === STDERR) stderr.write(payload);
      else if (stream === SYSERR) {
        failed = true;
        reject(new Error(payload.toString()));
      } else stdout.write(payload);
    });
    src.on('data', (c: Buffer) => d.push(c));
    src.on('error', reject);
    src.on('end', () => {
      if (failed) return;
      if (d.leftover) reject(new Error('unexpected EOF in multiplexed stream'));
      else resolve();
    });
    src.on('close', () => resolve());
  });
}
