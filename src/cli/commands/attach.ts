/**
 * `attach`, and the stream pump shared with run/start/exec. It joins a hijacked attach/exec connection to this
 * process's stdio the way docker's hijackedIOStreamer does: raw terminal with a TTY, detach keys caught on our
 * side, half-close when stdin ends, demultiplexed output without a TTY; plus signal forwarding (--sig-proxy).
 */
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { EngineClient } from '../../client/engine';
import { FrameDemuxer, STDERR, SYSERR } from '../../client/stream';
import { DEFAULT_DETACH_KEYS, EscapeScanner, detachKeyBytes } from '../../common/detach-keys';
import { StatusError, type Command } from '../cli';
import { enterRawMode, followResize } from '../tty';
import { DockerConfig } from '../../registry/client/dockerconfig';

// the escape scanner's unit tests import it from here
export { EscapeScanner, detachKeyBytes };

/** What docker's CLI reports when `attach`/`exec` end by the detach keys (run and start -a exit 0 instead). */
export const DETACHED_MESSAGE = 'read escape sequence';

export interface PumpOptions {
  tty: boolean;
  /** Send this process's stdin (-i). */
  stdin: boolean;
  detachKeys?: string;
}

export type PumpResult = 'ended' | 'detached';

/** Escape keys for the local side: docker warns and falls back to the default when they do not parse. */
/** --detach-keys, else the config file's `detachKeys`, as the docker CLI: sent to the daemon and used locally. */
export function detachKeysOption(flag: unknown): string | undefined {
  return (flag as string) || new DockerConfig().detachKeys();
}

function localDetachKeys(keys: string | undefined): Buffer {
  try {
    return detachKeyBytes(keys || DEFAULT_DETACH_KEYS);
  } catch (e) {
    process.stderr.write(`WARNING: invalid detach escape keys, using default: ${(e as Error).message}\n`);
    return detachKeyBytes(DEFAULT_DETACH_KEYS);
  }
}

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
    const raw = o.tty && !!stdin.isTTY;
    const restoreTerminal = raw ? enterRawMode() : () => {};
    const scanner = raw ? new EscapeScanner(localDetachKeys(o.detachKeys)) : null;
    const onData = (chunk: Buffer): void => {
      if (!scanner) {
        socket.write(chunk);
        return;
      }
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
      restoreTerminal();
      stdin.pause();
    };
  });
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

interface AttachInspect {
  Id: string;
  Config: { Tty: boolean; OpenStdin: boolean };
  State: { Running: boolean; Paused: boolean; Restarting: boolean };
}

/** docker's inspectContainerAndCheckState. */
async function runningContainer(client: EngineClient, name: string): Promise<AttachInspect> {
  const c = await client.request<AttachInspect>('GET', `/containers/${name}/json`);
  if (!c.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
  if (c.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
  if (c.State.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
  return c;
}

export const attach: Command = {
  use: 'attach [OPTIONS] CONTAINER',
  short: "Attach local standard input, output, and error streams to a running container",
  flags: [
    { name: 'detach-keys', kind: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'no-stdin', kind: 'bool', usage: 'Do not attach STDIN' },
    { name: 'sig-proxy', kind: 'bool', usage: 'Proxy all received signals to the process', default: true },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const client = await ctx.client();
    const name = o.args[0];
    // registered first, as docker: the exit status of a container that ends while we attach
    const waited = client.request<{ StatusCode: number; Error?: { Message: string } | null }>('POST', `/containers/${name}/wait`);
    waited.catch(() => {});
    const c = await runningContainer(client, name);
    const stdin = !o.values['no-stdin'] && c.Config.OpenStdin;
    if (!o.values['no-stdin'] && c.Config.Tty && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
    const detachKeys = detachKeysOption(o.values['detach-keys']);
    const stopProxy = o.values['sig-proxy'] && !c.Config.Tty ? proxySignals(client, c.Id) : () => {};
    try {
      const socket = await client.hijack('POST', `/containers/${c.Id}/attach`, {
        query: { stream: 1, stdin: stdin || undefined, stdout: 1, stderr: 1, detachKeys: detachKeys || undefined },
        contentType: 'text/plain',
      });
      const pumped = pumpStreams(socket, { tty: c.Config.Tty, stdin, detachKeys });
      await runningContainer(client, c.Id).catch((e) => {
        socket.destroy();
        throw e;
      });
      const stopResize = c.Config.Tty ? followResize(client, `/containers/${c.Id}`, true) : () => {};
      try {
        if ((await pumped) === 'detached') throw new StatusError(1, DETACHED_MESSAGE);
      } finally {
        stopResize();
      }
      const status = await waited;
      if (status.Error?.Message) throw new StatusError(1, status.Error.Message);
      return status.StatusCode;
    } finally {
      stopProxy();
    }
  },
};
