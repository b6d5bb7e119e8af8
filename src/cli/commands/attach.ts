/**
 * Joins a hijacked attach/exec connection to this process's stdio the way docker's hijackedIOStreamer does:
 * raw terminal when -it, detach-key detection on the input side, half-close when stdin ends, demultiplexed
 * output when there is no TTY, resize on SIGWINCH, and signal forwarding (--sig-proxy).
 */
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { EngineClient } from '../../client/engine';
import { FrameDemuxer, STDERR, SYSERR } from '../../client/stream';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

const CTRL_PUNCT: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 };

/** term.ToBytes: "ctrl-p,ctrl-q" -> [0x10, 0x11]; single characters stand for themselves. */
export function detachKeyBytes(keys: string): Buffer {
  const out: number[] = [];
  for (const key of keys.split(',')) {
    if (key.length === 1) { out.push(key.charCodeAt(0)); continue; }
    const m = /^ctrl-(.)$/.exec(key);
    const c = m?.[1];
    if (c !== undefined && c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
    else if (c !== undefined && c in CTRL_PUNCT) out.push(CTRL_PUNCT[c]);
    else throw new Error(`Unknown character: '${key}'`);
  }
  return Buffer.from(out);
}

/**
 * term.EscapeProxy: passes input through until the escape sequence has been typed in full; a partial match
 * is held back and released if the next byte breaks it. Returns [bytes to forward, detached?].
 */
export class EscapeScanner {
  private matched = 0;
  constructor(private readonly keys: Buffer) {}

  feed(chunk: Buffer): [Buffer, boolean] {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.keys.length && b === this.keys[this.matched]) {
        this.matched++;
        if (this.matched === this.keys.length) return [Buffer.from(out), true];
        continue;
      }
      if (this.matched) out.push(...this.keys.subarray(0, this.matched));
      this.matched = 0;
      if (this.keys.length && b === this.keys[0]) this.matched = 1;
      else out.push(b);
    }
    return [Buffer.from(out), false];
  }
}

export interface PumpOptions {
  tty: boolean;
  /** Send this process's stdin (-i). */
  stdin: boolean;
  detachKeys?: string;
}

export type PumpResult = 'ended' | 'detached';

/** Copies the connection to stdout/stderr and stdin to it; resolves when output ends or the user detaches. */
export function pumpStreams(socket: Socket, o: PumpOptions): Promise<PumpResult> {
  return new Promise<PumpResult>((resolve, reject) => {
    let restore = (): void => {};
    const finish = (r: PumpResult | Error): void => {
      restore();
      restore = () => {};
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    if (o.tty) socket.on('data', (d: Buffer) => process.stdout.write(d));
    else {
      const demux = new FrameDemuxer((stream, payload) => {
        if (stream === SYSERR) finish(new Error(payload.toString()));
        else (stream === STDERR ? process.stderr : process.stdout).write(payload);
      });
      socket.on('data', (d: Buffer) => demux.push(d));
    }
    socket.on('end', () => finish('ended'));
    socket.on('close', () => finish('ended'));
    socket.on('error', (e) => finish(e));

    if (!o.stdin) {
      socket.end(); // docker half-closes at once when there is no stdin to send
      return;
    }
    const stdin = process.stdin;
    const raw = o.tty && stdin.isTTY;
    if (raw) stdin.setRawMode(true);
    const scanner = raw ? new EscapeScanner(detachKeyBytes(o.detachKeys || DEFAULT_DETACH_KEYS)) : null;
    const onData = (chunk: Buffer): void => {
      if (!scanner) { socket.write(chunk); return; }
      const [bytes, detached] = scanner.feed(chunk);
      if (bytes.length) socket.write(bytes);
      if (detached) {
        socket.destroy();
        finish('detached');
      }
    };
    const onEnd = (): void => void socket.end();
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    restore = () => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (raw) stdin.setRawMode(false);
      stdin.pause();
    };
  });
}

/** POSTs <base>/resize with the terminal size now and on every SIGWINCH; returns the unsubscribe. */
export function followResize(client: EngineClient, base: string): () => void {
  if (!process.stdout.isTTY) return () => {};
  const resize = (): void => {
    const [w, h] = process.stdout.getWindowSize();
    client.request('POST', `${base}/resize`, { query: { h, w } }).catch(() => {});
  };
  resize();
  process.on('SIGWINCH', resize);
  return () => void process.off('SIGWINCH', resize);
}

const PROXIED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

/** --sig-proxy: forwards signals this process receives to the container (POST /kill?signal=<number>). */
export function proxySignals(client: EngineClient, id: string): () => void {
  const handlers = PROXIED.map((name) => {
    const h = (): void => void client.request('POST', `/containers/${id}/kill`, { query: { signal: constants.signals[name] } }).catch(() => {});
    process.on(name, h);
    return [name, h] as const;
  });
  return () => handlers.forEach(([n, h]) => process.off(n, h));
}
