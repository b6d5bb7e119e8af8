/** Docker's stream framing and connection hijacking (attach, exec start). */
import type { Duplex, Writable } from 'node:stream';
import { MAX_JSON_BODY, readBody, type Context } from './http';
import { ApiError, badRequest } from '../common/errors';
import type { OutputSink, StreamId } from '../common/output';

/** An 8-byte header frame: byte 0 stream (1 stdout, 2 stderr), bytes 4-7 payload length, big-endian. */
export function frame(stream: StreamId, data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream === 'stdout' ? 1 : 2;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

export function outputSink(out: Writable, tty: boolean): OutputSink {
  return {
    write: (stream, data) => {
      if (data.length === 0 || out.destroyed || out.writableEnded) return;
      out.write(tty ? data : frame(stream, data));
    },
    end: () => {
      if (!out.destroyed && !out.writableEnded) out.end();
    },
  };
}

/**
 * A client stream for attach/exec: the raw upgraded socket after `101 UPGRADED`, or a plain chunked 200 reply for
 * clients that do not upgrade (their stdin is then the request body).
 */
export interface ClientStream {
  /** Output towards the client. */
  out: Writable;
  /** Stdin bytes from the client (already including those that arrived with the headers); ends on half-close. */
  input: NodeJS.ReadableStream;
  /** Request body bytes that preceded the stream (exec start's JSON). */
  body: Buffer;
}

export async function openClientStream(ctx: Context, tty: boolean | (() => boolean)): Promise<ClientStream> {
  const contentType = (isTty: boolean) => (isTty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream');
  if (ctx.upgrade) {
    const { socket, head } = ctx.upgrade;
    const length = Number(ctx.req.headers['content-length'] ?? 0);
    if (length > MAX_JSON_BODY) throw new ApiError(413, `request body too large: the limit is ${MAX_JSON_BODY} bytes`);
    const body = await takeBytes(socket, head, length);
    const isTty = typeof tty === 'function' ? tty() : tty;
    ctx.upgrade.hijacked = true;
    socket.write(
      `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType(isTty)}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
    );
    return { out: socket, input: socket, body: body.taken };
  }
  const r = ctx.res!;
  // Without upgrade the request body is the JSON (exec) and stdin is not available.
  const body = ctx.req.method === 'POST' && ctx.req.headers['content-type']?.includes('json') ? await readBody(ctx.req) : Buffer.alloc(0);
  const isTty = typeof tty === 'function' ? tty() : tty;
  r.writeHead(200, { 'Content-Type': contentType(isTty) });
  r.flushHeaders();
  return { out: r, input: ctx.req, body };
}

/** Read exactly `n` bytes of request body from an upgraded socket; whatever follows is pushed back for the stream. */
export async function takeBytes(socket: Duplex, head: Buffer, n: number): Promise<{ taken: Buffer }> {
  if (head.length > 0) socket.unshift(head);
  if (n === 0) return { taken: Buffer.alloc(0) };
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = (socket.read() as Buffer | null) ?? (await nextReadable(socket));
    if (!chunk) throw badRequest('connection closed before the request body was complete');
    parts.push(chunk);
    have += chunk.length;
  }
  const all = Buffer.concat(parts);
  if (all.length > n) socket.unshift(all.subarray(n));
  return { taken: all.subarray(0, n) };
}

function nextReadable(socket: Duplex): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const onReadable = () => {
      const c = socket.read() as Buffer | null;
      if (c) {
        done();
        resolve(c);
      }
    };
    const onEnd = () => {
      done();
      resolve(null);
    };
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}
