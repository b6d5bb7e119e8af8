/** `run` and `create`, with the request flow of docker's CLI (trace §3-§5): create, attach, wait, start. */
import { EngineError, type EngineClient } from '../../client/engine';
import type { WaitResponse } from '../../client/types';
import { StatusError, type Command, type Ctx } from '../cli';
import type { FlagSpec, ParsedFlags } from '../flags';
import { familiarWithTag, parseImageRef } from '../refname';
import { followResize, terminalSize } from '../tty';
import { detachKeysOption, proxySignals, pumpStreams } from './attach';
import { buildCreateRequest, containerFlags, type CreateRequest } from './container-opts';
import { displayJsonMessages } from './progress';

const quietFlag: FlagSpec = { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress the pull output' };

function build(ctx: Ctx, o: ParsedFlags, detach: boolean): CreateRequest {
  try {
    return buildCreateRequest(o, { env: process.env, cwd: process.cwd(), consoleSize: terminalSize(), detach });
  } catch (e) {
    throw ctx.withHelp(e);
  }
}

/** POST /images/create?fromImage=..., printing the progress to stderr (run/create pull missing images). */
async function pull(client: EngineClient, image: string, platform: string | undefined, quiet: boolean): Promise<void> {
  const ref = parseImageRef(image);
  const messages = client.ndjson('POST', '/images/create', {
    query: { fromImage: ref.name, tag: ref.digest ?? ref.tag ?? 'latest', platform },
    headers: { 'X-Registry-Auth': 'e30=' },
  });
  await displayJsonMessages(messages, quiet ? devNull : process.stderr);
}

const devNull = { write: () => true } as unknown as NodeJS.WritableStream;

/** Creates the container, pulling the image once when the daemon says it is missing. Returns the ID. */
async function createContainer(ctx: Ctx, req: CreateRequest, quiet: boolean): Promise<string> {
  try {
    const client = await ctx.client();
    const send = (): Promise<{ Id: string; Warnings?: string[] | null }> =>
      client.request('POST', '/containers/create', { query: { name: req.name, platform: req.platform }, body: req.body });
    let res;
    try {
      res = await send();
    } catch (e) {
      // docker's CLI pulls on any image 404: missing, or here but of another platform than --platform asks for
      if (!(e instanceof EngineError && e.status === 404 && /No such image|does not match the specified platform/i.test(e.reason))) throw e;
      const image = req.body.Image as string;
      process.stderr.write(`Unable to find image '${familiarWithTag(parseImageRef(image))}' locally\n`);
      await pull(client, image, req.platform, quiet);
      res = await send();
    }
    for (const w of res.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
    return res.Id;
  } catch (e) {
    if (e instanceof StatusError) throw e;
    throw ctx.withHelp(e);
  }
}

/** toStatusError: 127 for a missing executable, 126 for one that cannot be run, otherwise 125. */
function startError(ctx: Ctx, e: unknown): StatusError {
  const msg = e instanceof Error ? e.message : String(e);
  if (/executable file not found|no such file or directory/i.test(msg)) return ctx.withHelp(e, 127);
  if (/permission denied|is a directory/i.test(msg)) return ctx.withHelp(e, 126);
  return ctx.withHelp(e, 125);
}

export interface AttachedRun {
  id: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  autoRemove: boolean;
  detachKeys?: string;
  /** Forward signals to the container (run: always when --sig-proxy, as docker; start -a: without a TTY only). */
  sigProxy: boolean;
}

/**
 * attach (hijacked) -> wait -> start -> stream until the output ends -> exit with the wait's StatusCode.
 * Shared by `run` and `start -a`; `onStartError` shapes a failed start the way the calling command reports it.
 */
export async function attachWaitStart(ctx: Ctx, a: AttachedRun, onStartError: (e: unknown) => Error): Promise<number> {
  const client = await ctx.client();
  const socket = a.stdin || a.stdout || a.stderr
    ? await client.hijack('POST', `/containers/${a.id}/attach`, {
      query: { stream: 1, stdin: a.stdin || undefined, stdout: a.stdout || undefined, stderr: a.stderr || undefined, detachKeys: a.detachKeys || undefined },
      contentType: 'text/plain',
    })
    : null;
  const pumped = socket ? pumpStreams(socket, { tty: a.tty, stdin: a.stdin, detachKeys: a.detachKeys }) : Promise.resolve('ended' as const);
  let sent!: () => void;
  const waitSent = new Promise<void>((r) => (sent = r));
  const waited = client.request<WaitResponse>('POST', `/containers/${a.id}/wait`, { query: { condition: a.autoRemove ? 'removed' : 'next-exit' }, onSent: sent });
  waited.catch(() => sent());
  await waitSent;
  try {
    await client.request('POST', `/containers/${a.id}/start`);
  } catch (e) {
    socket?.destroy();
    await pumped.catch(() => {});
    if (a.autoRemove) await waited.catch(() => {});
    throw onStartError(e);
  }
  const stopResize = a.tty ? followResize(client, `/containers/${a.id}`) : () => {};
  const stopProxy = a.sigProxy ? proxySignals(client, a.id) : () => {};
  try {
    if ((await pumped) === 'detached') return 0;
    const status = await waited;
    if (status?.Error?.Message) {
      process.stderr.write(`Error waiting for container: ${status.Error.Message}\n`);
      return 125;
    }
    return status?.StatusCode ?? 125;
  } finally {
    stopResize();
    stopProxy();
  }
}

export const run: Command = {
  use: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  flags: [
    ...containerFlags,
    { name: 'detach', short: 'd', kind: 'bool', usage: 'Run container in background and print container ID' },
    { name: 'detach-keys', kind: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'sig-proxy', kind: 'bool', usage: 'Proxy received signals to the process', default: true },
    quietFlag,
  ],
  interspersed: false,
  args: [1, Infinity],
  async run(ctx, o) {
    const v = o.values;
    const detach = v.detach as boolean;
    const req = build(ctx, o, detach);
    const body = req.body;
    if (!detach && body.AttachStdin && body.Tty && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
    const id = await createContainer(ctx, req, v.quiet as boolean);
    const autoRemove = v.rm as boolean;
    if (detach) {
      const client = await ctx.client();
      // like docker, a wait is registered even when detached; it is abandoned when we exit
      client.request('POST', `/containers/${id}/wait`, { query: { condition: autoRemove ? 'removed' : 'next-exit' } }).catch(() => {});
      try {
        await client.request('POST', `/containers/${id}/start`);
      } catch (e) {
        throw startError(ctx, e);
      }
      process.stdout.write(id + '\n');
      return 0;
    }
    return attachWaitStart(ctx, {
      id,
      tty: body.Tty as boolean,
      stdin: body.AttachStdin as boolean,
      stdout: body.AttachStdout as boolean,
      stderr: body.AttachStderr as boolean,
      autoRemove,
      detachKeys: detachKeysOption(v['detach-keys']),
      sigProxy: v['sig-proxy'] as boolean,
    }, (e) => startError(ctx, e));
  },
};

export const create: Command = {
  use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  flags: [...containerFlags, quietFlag],
  interspersed: false,
  args: [1, Infinity],
  async run(ctx, o) {
    const id = await createContainer(ctx, build(ctx, o, false), o.values.quiet as boolean);
    process.stdout.write(id + '\n');
    return 0;
  },
};
