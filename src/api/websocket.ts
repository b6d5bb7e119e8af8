/**
 * A minimal RFC 6455 websocket endpoint over an upgraded connection, for docker's `attach/ws`: the handshake, data
 * frames (text or binary, fragmented or not) as one byte stream in, binary frames out, ping/pong and close both ways.
 * Hand-written (~150 lines) rather than the `ws` package: the upgrade is already routed to our handlers as a raw
 * socket, and attach needs a byte stream, not a message API.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import type { Duplex } from 'node:stream';
import { badRequest } from '../common/errors';
import type { Context } from './http';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** One final frame; `mask` is set by clients (RFC 6455 §5.3), never by servers. */
export function encodeFrame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 0x10000 ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (mask ? 4 : 0));
  head[0] = 0x80 | opcode;
  head[1] = (mask ? 0x80 : 0) | (ext === 0 ? len : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(len, 2);
  if (ext === 8) head.writeBigUInt64BE(BigInt(len), 2);
  if (!mask) return Buffer.concat([head, payload]);
  mask.copy(head, 2 + ext);
  return Buffer.concat([head, unmask(payload, mask)]);
}

function unmask(data: Buffer, mask: Buffer): Buffer {
  const out = Buffer.allocUnsafe(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ^ mask[i & 3];
  return out;
}

export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** Incremental frame parser: feed bytes, get the complete frames (payload unmasked). */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    for (;;) {
      const b = this.buf;
      if (b.length < 2) break;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(64 << 20)) throw new Error('websocket frame too large');
        len = Number(big);
        at = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const end = at + (masked ? 4 : 0) + len;
      if (b.length < end) break;
      const data = b.subarray(end - len, end);
      frames.push({ fin: (b[0] & 0x80) !== 0, opcode: b[0] & 0x0f, payload: masked ? unmask(data, b.subarray(at, at + 4)) : Buffer.from(data) });
      this.buf = b.subarray(end);
    }
    return frames;
  }
}

export interface WebSocketStream {
  /** Each write becomes one binary frame; end() sends a close frame and closes the connection. */
  out: Writable;
  /** Payloads of the client's data frames; ends when the client closes (close frame or connection). */
  input: PassThrough;
}

/** Answer the websocket handshake on an upgraded request and return the connection as byte streams. */
export function acceptWebSocket(ctx: Context): WebSocketStream {
  const h = ctx.req.headers;
  if (!ctx.upgrade || String(h.upgrade ?? '').toLowerCase() !== 'websocket') throw badRequest('websocket upgrade required');
  const key = h['sec-websocket-key'];
  if (typeof key !== 'string' || !key) throw badRequest('missing Sec-WebSocket-Key header');
  const { socket, head } = ctx.upgrade;
  ctx.upgrade.hijacked = true;
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`);
  return serveFrames(socket, head);
}

function serveFrames(socket: Duplex, head: Buffer): WebSocketStream {
  const input = new PassThrough();
  let closeSent = false;
  const sendClose = (payload: Buffer): void => {
    if (closeSent || socket.destroyed) return;
    closeSent = true;
    socket.end(encodeFrame(OP.close, payload));
  };
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!closeSent && !socket.destroyed) socket.write(encodeFrame(OP.binary, chunk));
      cb();
    },
    final(cb) {
      sendClose(codePayload(1000));
      cb();
    },
  });
  const parser = new FrameParser();
  const onData = (chunk: Buffer): void => {
    let frames: Frame[];
    try {
      frames = parser.feed(chunk);
    } catch {
      sendClose(codePayload(1009));
      return;
    }
    for (const f of frames) {
      if (f.opcode === OP.ping) {
        if (!closeSent) socket.write(encodeFrame(OP.pong, f.payload));
      } else if (f.opcode === OP.close) {
        sendClose(f.payload.subarray(0, 2));
        input.end();
      } else if (f.opcode <= OP.binary && !input.writableEnded) input.write(f.payload);
    }
  };
  const gone = (): void => {
    if (!input.writableEnded) input.end();
    if (!out.destroyed) out.destroy();
  };
  socket.on('data', onData);
  socket.on('end', gone);
  socket.on('close', gone);
  if (head.length) onData(head);
  return { out, input };
}

function codePayload(code: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return b;
}
