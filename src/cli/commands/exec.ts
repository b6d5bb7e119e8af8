/** `exec` (trace §8): inspect, create the exec, hijack its start, resize, then exit with the exec's ExitCode. */
import { StatusError, type Command } from '../cli';
import { followResize, terminalSize } from '../tty';
import { DETACHED_MESSAGE, detachKeysOption, pumpStreams } from './attach';
import { parseEnvFile } from './container-opts';
import { readFileSync } from 'node:fs';

export const exec: Command = {
  use: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  short: 'Execute a command in a running container',
  flags: [
    { name: 'detach', short: 'd', kind: 'bool', usage: 'Detached mode: run command in the background' },
    { name: 'detach-keys', kind: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'env', short: 'e', kind: 'list', usage: 'Set environment variables' },
    { name: 'env-file', kind: 'list', usage: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', kind: 'bool', usage: 'Keep STDIN open even if not attached' },
    { name: 'privileged', kind: 'bool', usage: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', kind: 'bool', usage: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', kind: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', kind: 'string', usage: 'Working directory inside the container' },
  ],
  interspersed: false,
  args: [2, Infinity],
  async run(ctx, o) {
    const v = o.values;
    const [container, ...cmd] = o.args;
    const detach = v.detach as boolean;
    const tty = v.tty as boolean;
    const stdin = (v.interactive as boolean) && !detach;
    const detachKeys = detachKeysOption(v['detach-keys']);
    const client = await ctx.client();
    await client.request('GET', `/containers/${container}/json`); // "No such container" takes precedence
    if (!detach && stdin && tty && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
    let env: string[];
    try {
      env = [...(v['env-file'] as string[]).flatMap((f) => parseEnvFile(readFileSync(f, 'utf8'), process.env)), ...(v.env as string[])];
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    // docker's fillConsoleSize: the pty gets the terminal's size from the start
    const consoleSize = tty && process.stdin.isTTY ? terminalSize() : undefined;
    const created = await client.request<{ Id: string }>('POST', `/containers/${container}/exec`, {
      body: {
        User: v.user, Privileged: v.privileged, Tty: tty, ConsoleSize: consoleSize, AttachStdin: stdin, AttachStderr: !detach,
        AttachStdout: !detach, Detach: detach, DetachKeys: detachKeys, Env: env.length ? env : null, WorkingDir: v.workdir, Cmd: cmd,
      },
    });
    const id = created.Id;
    if (detach) {
      await client.request('POST', `/exec/${id}/start`, { body: { Detach: true, Tty: tty, ConsoleSize: consoleSize } });
      return 0;
    }
    const socket = await client.hijack('POST', `/exec/${id}/start`, { body: { Detach: false, Tty: tty, ConsoleSize: consoleSize } });
    const pumped = pumpStreams(socket, { tty, stdin, detachKeys });
    const stopResize = tty && process.stdin.isTTY ? followResize(client, `/exec/${id}`) : () => {};
    try {
      if ((await pumped) === 'detached') throw new StatusError(1, DETACHED_MESSAGE);
    } finally {
      stopResize();
    }
    const info = await client.request<{ ExitCode: number | null; Running: boolean }>('GET', `/exec/${id}/json`);
    return info.ExitCode ?? 0;
  },
};
