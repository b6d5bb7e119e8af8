/**
 * Attach sessions: each attached client gets its own connection to conmon's attach socket. Clients that attach
 * before start (the docker CLI always does) wait here with their stdin buffered until conmon has created the
 * container, and are connected before the process starts, so no output is lost. {@link bridge} joins one client to
 * one attach connection; exec sessions use it too.
 */
import { connectAttach, type AttachSocket } from '../../runtime/attach-socket';
import type { ContainerRuntime } from '../../runtime/types';
import type { OutputSink } from '../../common/output';
import { badRequest } from '../../common/errors';
import { DEFAULT_DETACH_KEYS, EscapeScanner, detachKeyBytes } from '../../common/detach-keys';

export interface AttachClient {
  sink: OutputSink;
  /** Which output streams the client asked for. */
  streams: { stdout: boolean; stderr: boolean };
  /** Client stdin, when the client attached with stdin=1 and the container has OpenStdin. */
  stdin?: NodeJS.ReadableStream;
  /** Close the container's stdin when the client's stdin ends (docker's StdinOnce). */
  stdinOnce: boolean;
  /** Detach sequence watched on stdin (TTY sessions only, as docker): typing it ends this client's session. */
  detachKeys?: Buffer;
  /** Called when the client typed the detach sequence (the process keeps running). */
  onDetach?: () => void;
  /** Called once the session is over (container exited, client gone or detached). */
  onClose?: () => void;
}

/** The detach sequence for a TTY session from the `detachKeys` a client sent (docker's default when empty). */
export function sessionDetachKeys(tty: boolean, keys: string | null | undefined): Buffer | undefined {
  if (!tty) return undefined;
  try {
    return detachKeyBytes(keys || DEFAULT_DETACH_KEYS);
  } catch {
    throw badRequest(`Invalid detach keys (${keys ?? ''}) provided`);
  }
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
  async connectPending(id: string): Promise<void> {
    const list = this.pending.get(id) ?? [];
    this.pending.delete(id);
    for (const p of list) {
      p.client.stdin?.removeAllListeners('data').removeAllListeners('end');
      if (p.gone && !p.buffered.length) continue;
      bridge(await connectAttach(this.runtime.attachSocketPath(id)), p.client, p.buffered, p.stdinEnded);
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
  async attachRunning(id: string, client: AttachClient): Promise<void> {
    bridge(await connectAttach(this.runtime.attachSocketPath(id)), client);
  }
}

/**
 * Joins a client to a conmon attach connection: output packets to the sink, client stdin to the socket through
 * the detach-key scanner. Stdin EOF half-closes (conmon then closes the process's stdin, unless it was told to
 * leave it open); a client that goes away only drops this connection. The sink ends once the socket has ended
 * and `settled` (if given) has resolved, so what the end of the stream implies (an exit code) is already recorded.
 */
export function bridge(sock: AttachSocket, client: AttachClient, buffered: Buffer[] = [], stdinEnded = false, settled?: Promise<unknown>): void {
  let closed = false;
  const finish = (after?: Promise<unknown>): void => {
    if (closed) return;
    closed = true;
    void Promise.resolve(after).catch(() => undefined).then(() => {
      client.sink.end();
      client.onClose?.();
    });
  };
  sock.on('data', (c: { stream: 'stdout' | 'stderr'; data: Buffer }) => {
    if (client.streams[c.stream]) client.sink.write(c.stream, c.data);
  });
  sock.on('end', () => finish(settled));
  sock.on('close', () => finish(settled));
  sock.on('error', () => finish(settled));
  const stdin = client.stdin;
  if (!stdin) return;
  const scanner = client.detachKeys?.length ? new EscapeScanner(client.detachKeys) : undefined;
  const onData = (d: Buffer): void => {
    if (!scanner) {
      sock.write(d);
      return;
    }
    const [bytes, detached] = scanner.feed(d);
    if (bytes.length) sock.write(bytes);
    if (!detached) return;
    stdin.off('data', onData);
    sock.destroy();
    client.onDetach?.();
    finish();
  };
  const endStdin = (): void => {
    if (client.stdinOnce && !closed) sock.shutdownWrite();
  };
  for (const b of buffered) onData(b);
  if (closed) return;
  if (stdinEnded) {
    endStdin();
    return;
  }
  stdin.on('data', onData);
  stdin.on('end', endStdin);
  // The client went away entirely: drop our connection; the process keeps running.
  stdin.on('close', () => {
    if (!closed) sock.destroy();
  });
}
