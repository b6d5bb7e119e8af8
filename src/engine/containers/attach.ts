/**
 * Attach sessions: each attached client gets its own connection to conmon's attach socket. Clients that attach
 * before start (the docker CLI always does) wait here with their stdin buffered until conmon has created the
 * container, and are connected before the process starts, so no output is lost.
 */
import { connectAttach, type AttachChunk, type AttachSocket } from '../../runtime/attach-socket';
import type { ContainerRuntime } from '../../runtime/types';
import type { OutputSink } from '../../api/stream';

export interface AttachClient {
  sink: OutputSink;
  /** Which output streams the client asked for. */
  streams: { stdout: boolean; stderr: boolean };
  /** Client stdin, when the client attached with stdin=1 and the container has OpenStdin. */
  stdin?: NodeJS.ReadableStream;
  /** Close the container's stdin when the client's stdin ends (docker's StdinOnce). */
  stdinOnce: boolean;
  /** Called once the session is over (container exited or client gone). */
  onClose?: () => void;
}

interface Pending {
  client: AttachClient;
  buffered: Buffer[];
  stdinEnded: boolean;
  gone: boolean;
}

export class AttachHub {
  private readonly pending = new Map<string, Pending[]>();

  constructor(private readonly runtime: ContainerRuntime) {}

  /** Register a client for a container that is not started yet. */
  addPending(id: string, client: AttachClient): void {
    const p: Pending = { client, buffered: [], stdinEnded: false, gone: false };
    client.stdin?.on('data', (d: Buffer) => p.buffered.push(d));
    client.stdin?.on('end', () => (p.stdinEnded = true));
    client.stdin?.on('close', () => (p.gone = true));
    const list = this.pending.get(id) ?? [];
    list.push(p);
    this.pending.set(id, list);
  }

  /** Connect every pending client of a created (not yet started) container. */
  async connectPending(id: string, _tty: boolean): Promise<void> {
    const list = this.pending.get(id) ?? [];
    this.pending.delete(id);
    for (const p of list) {
      p.client.stdin?.removeAllListeners('data').removeAllListeners('end');
      if (p.gone && !p.buffered.length) continue;
      await this.connect(id, p.client, p.buffered, p.stdinEnded);
    }
  }

  /** The container failed to start: end the waiting clients' streams. */
  failPending(id: string): void {
    for (const p of this.pending.get(id) ?? []) {
      p.client.sink.end();
      p.client.onClose?.();
    }
    this.pending.delete(id);
  }

  /** Attach to a running container now. */
  attachRunning(id: string, client: AttachClient): Promise<void> {
    return this.connect(id, client, [], false);
  }

  private async connect(id: string, client: AttachClient, buffered: Buffer[], stdinEnded: boolean): Promise<void> {
    const sock: AttachSocket = await connectAttach(this.runtime.attachSocketPath(id));
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      client.sink.end();
      client.onClose?.();
    };
    sock.on('data', (c: AttachChunk) => {
      if (client.streams[c.stream]) client.sink.write(c.stream, c.data);
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('error', finish);
    const stdin = client.stdin;
    if (!stdin) return;
    for (const b of buffered) sock.write(b);
    const endStdin = () => {
      if (client.stdinOnce) sock.shutdownWrite();
    };
    if (stdinEnded) {
      endStdin();
      return;
    }
    stdin.on('data', (d: Buffer) => sock.write(d));
    stdin.on('end', endStdin);
    // The client went away entirely: drop our connection; the container keeps running.
    stdin.on('close', () => {
      if (!closed) sock.destroy();
    });
  }
}
