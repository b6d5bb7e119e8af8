/**
 * Streams over SOCK_SEQPACKET unix sockets, for conmon's attach socket (`<socket-dir>/<cuuid>/attach`).
 *
 * conmon's protocol: every packet it sends is 1 byte stream id (2 = stdout, 3 = stderr; a TTY is all stdout) + the
 * payload; every packet it receives is raw stdin. When the client shuts down its write side (or disconnects),
 * conmon closes the container's stdin unless it runs with --leave-stdin-open; output keeps flowing until the
 * container exits, then conmon closes the socket ('end').
 *
 * Beware: conmon writes to attach clients with blocking writes, so a client that stops reading for long stalls
 * conmon (and the container's output and logs with it); keep consuming.
 */
import { Duplex } from 'node:stream';
import {
  SocketEvent,
  seqpacketConnect,
  socketClose,
  socketOpen,
  socketPoll,
  socketSend,
  socketShutdown,
  type SocketHandle,
} from '../native';

/** conmon's stdin read buffer (STDIO_BUF_SIZE); larger packets would be truncated. */
export const MAX_STDIN_PACKET = 8192;

export interface SeqpacketSocketOptions {
  /** Largest packet sent; longer writes are split (default {@link MAX_STDIN_PACKET}). */
  maxPacket?: number;
  /** Keep the writable side open after the peer's EOF (default false: end it, like net.Socket). */
  allowHalfOpen?: boolean;
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (err?: Error | null) => void;
}

/**
 * Duplex over a SOCK_SEQPACKET socket. Readable side (object mode): one chunk per received packet, as returned by
 * {@link decode}. Writable side (bytes): each write is sent as packets of at most `maxPacket` bytes. Both sides
 * honour backpressure (reads pause polling when the readable buffer is full; writes wait for the socket).
 * `end()` half-closes (shutdown SHUT_WR) while packets keep arriving; the peer's EOF ends the readable side, which
 * ends the writable side too unless `allowHalfOpen`, then the stream closes.
 */
export class SeqpacketSocket extends Duplex {
  private readonly handle: SocketHandle;
  private reading = false;
  private pending: PendingWrite | undefined;

  private readonly maxPacket: number;

  /** Takes ownership of `fd` (a connected SOCK_SEQPACKET socket). */
  constructor(fd: number, options: SeqpacketSocketOptions = {}) {
    super({ readableObjectMode: true, allowHalfOpen: options.allowHalfOpen ?? false });
    this.maxPacket = options.maxPacket ?? MAX_STDIN_PACKET;
    this.handle = socketOpen(fd, (event, arg) => this.onEvent(event, arg));
  }

  /** Maps a received packet to the chunk pushed on the readable side; throwing destroys the stream. */
  protected decode(packet: Buffer): unknown {
    return packet;
  }

  override _read(): void {
    this.reading = true;
    this.updatePoll();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.send({ chunk, offset: 0, callback });
  }

  override _final(callback: (err?: Error | null) => void): void {
    try {
      socketShutdown(this.handle);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    socketClose(this.handle);
    const pending = this.pending;
    this.pending = undefined;
    pending?.callback(Object.assign(new Error('socket closed before the write completed'), { code: 'ERR_STREAM_DESTROYED' }));
    callback(err);
  }

  private onEvent(event: SocketEvent, arg: Buffer | Error | undefined): void {
    switch (event) {
      case SocketEvent.Data: {
        let chunk: unknown;
        try {
          chunk = this.decode(arg as Buffer);
        } catch (err) {
          this.destroy(err as Error);
          return;
        }
        if (!this.push(chunk)) {
          this.reading = false;
          this.updatePoll();
        }
        return;
      }
      case SocketEvent.Eof:
        this.reading = false; // the addon stopped read polling already
        this.push(null);
        return;
      case SocketEvent.Writable: {
        const pending = this.pending;
        this.pending = undefined;
        if (pending) this.send(pending);
        return;
      }
      case SocketEvent.Error:
        this.destroy(arg as Error);
    }
  }

  /** Sends packets until done or the socket is full; then waits for writability and resumes. */
  private send(write: PendingWrite): void {
    const { chunk, callback } = write;
    try {
      while (write.offset < chunk.length) {
        const sent = socketSend(this.handle, chunk.subarray(write.offset, write.offset + this.maxPacket));
        if (sent < 0) {
          this.pending = write;
          this.updatePoll();
          return;
        }
        write.offset += sent;
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  private updatePoll(): void {
    if (!this.destroyed) socketPoll(this.handle, this.reading, this.pending !== undefined);
  }
}

export type AttachStream = 'stdout' | 'stderr';

/** One packet of container output. */
export interface AttachChunk {
  stream: AttachStream;
  data: Buffer;
}

/**
 * conmon attach connection. Read {@link AttachChunk}s ('data' events / async iteration); write raw stdin bytes;
 * {@link shutdownWrite} signals stdin EOF; 'end' when conmon closes the socket (container exited).
 */
export class AttachSocket extends SeqpacketSocket {
  protected override decode(packet: Buffer): AttachChunk {
    const id = packet[0];
    if (id !== 2 && id !== 3) {
      throw new Error(`conmon attach socket: unexpected stream id ${String(id)} in a ${packet.length}-byte packet`);
    }
    return { stream: id === 2 ? 'stdout' : 'stderr', data: packet.subarray(1) };
  }

  /** Half-close after the queued stdin is sent: the container's stdin gets EOF, output keeps coming. */
  shutdownWrite(): void {
    this.end();
  }
}

/** Connects to conmon's attach socket. The path must fit sun_path (107 bytes): use conmon's short symlink path. */
export async function connectAttach(socketPath: string): Promise<AttachSocket> {
  return new AttachSocket(seqpacketConnect(socketPath));
}
