/** Container lifecycle commands: start, stop, kill, restart, rm, pause, unpause, wait, rename, top. */
import { EngineError } from '../../client/engine';
import type { WaitResponse } from '../../client/types';
import { StatusError, type Command, type Ctx } from '../cli';
import type { FlagSpec } from '../flags';
import { tabwrite } from '../format/tabwriter';
import { detachKeysOption } from './attach';
import { attachWaitStart } from './run';
import { forEachName, signalFlag, SKIP, timeoutFlag } from './util';

const ANY: [number, number] = [1, Infinity];

/** A command that POSTs `/containers/{name}/<action>` for every argument and prints the names that worked. */
function perContainer(use: string, short: string, flags: FlagSpec[], request: (ctx: Ctx, name: string, o: Record<string, unknown>) => Promise<unknown>): Command {
  return {
    use,
    short,
    flags,
    args: ANY,
    async run(ctx, o) {
      await ctx.client();
      await forEachName(o.args, (n) => request(ctx, n, { ...o.values, changed: o.changed }), (n) => process.stdout.write(n + '\n'));
    },
  };
}

const post = async (ctx: Ctx, path: string, query?: Record<string, string | number | undefined>): Promise<unknown> =>
  (await ctx.client()).request('POST', path, { query });

/** -t/--timeout (and its hidden old name --time) is only sent when given. */
const stopQuery = (o: Record<string, unknown>): Record<string, string | number | undefined> => {
  const changed = o.changed as Set<string>;
  const t = changed.has('timeout') ? (o.timeout as number) : changed.has('time') ? (o.time as number) : undefined;
  return { t, signal: (o.signal as string) || undefined };
};
const hiddenTime: FlagSpec = { name: 'time', kind: 'int', usage: 'Seconds to wait before killing the container (deprecated: use --timeout)', hidden: true };

export const stop = perContainer('stop [OPTIONS] CONTAINER [CONTAINER...]', 'Stop one or more running containers',
  [signalFlag('Signal to send to the container'), timeoutFlag, hiddenTime],
  (ctx, n, o) => post(ctx, `/containers/${n}/stop`, stopQuery(o)));

export const restart = perContainer('restart [OPTIONS] CONTAINER [CONTAINER...]', 'Restart one or more containers',
  [signalFlag('Signal to send to the container'), timeoutFlag, hiddenTime],
  (ctx, n, o) => post(ctx, `/containers/${n}/restart`, stopQuery(o)));

export const kill = perContainer('kill [OPTIONS] CONTAINER [CONTAINER...]', 'Kill one or more running containers',
  [signalFlag('Signal to send to the container')],
  (ctx, n, o) => post(ctx, `/containers/${n}/kill`, { signal: (o.signal as string) || undefined }));

export const pause = perContainer('pause CONTAINER [CONTAINER...]', 'Pause all processes within one or more containers', [],
  (ctx, n) => post(ctx, `/containers/${n}/pause`));

export const unpause = perContainer('unpause CONTAINER [CONTAINER...]', 'Unpause all processes within one or more containers', [],
  (ctx, n) => post(ctx, `/containers/${n}/unpause`));

export const rm = perContainer('rm [OPTIONS] CONTAINER [CONTAINER...]', 'Remove one or more containers', [
  { name: 'force', short: 'f', kind: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
  { name: 'link', short: 'l', kind: 'bool', usage: 'Remove the specified link' },
  { name: 'volumes', short: 'v', kind: 'bool', usage: 'Remove anonymous volumes associated with the container' },
], async (ctx, n, o) => {
  const name = n.replace(/^\/+/, '');
  if (!name) throw new Error('Container name cannot be empty');
  try {
    return await (await ctx.client()).request('DELETE', `/containers/${name}`, {
      query: { force: o.force ? 1 : undefined, link: o.link ? 1 : undefined, v: o.volumes ? 1 : undefined },
    });
  } catch (e) {
    // rm -f of a container that is not there reports it but is not a failure
    if (!(o.force && e instanceof EngineError && e.status === 404)) throw e;
    process.stderr.write(e.message + '\n');
    return SKIP;
  }
});

export const start: Command = {
  use: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Start one or more stopped containers',
  flags: [
    { name: 'attach', short: 'a', kind: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'detach-keys', kind: 'string', usage: 'Override the key sequence for detaching a container' },
    { name: 'interactive', short: 'i', kind: 'bool', usage: "Attach container's STDIN" },
  ],
  args: ANY,
  async run(ctx, o) {
    const client = await ctx.client();
    const attach = o.values.attach as boolean;
    const interactive = o.values.interactive as boolean;
    if (attach || interactive) {
      if (o.args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
      const c = await client.request<{ Id: string; Config: { Tty: boolean; OpenStdin: boolean }; HostConfig: { AutoRemove: boolean } }>(
        'GET', `/containers/${o.args[0]}/json`);
      const stdin = interactive && c.Config.OpenStdin;
      if (stdin && c.Config.Tty && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
      return attachWaitStart(ctx, {
        id: c.Id, tty: c.Config.Tty, stdin, stdout: true, stderr: true, autoRemove: c.HostConfig.AutoRemove,
        detachKeys: detachKeysOption(o.values['detach-keys']), sigProxy: !c.Config.Tty,
      }, (e) => e as Error);
    }
    const failed: string[] = [];
    for (const n of o.args) {
      try {
        await client.request('POST', `/containers/${n}/start`);
        process.stdout.write(n + '\n');
      } catch (e) {
        process.stderr.write((e as Error).message + '\n');
        failed.push(n);
      }
    }
    if (failed.length) throw new StatusError(1, `Error: failed to start containers: ${failed.join(', ')}`);
    return 0;
  },
};

export const wait: Command = {
  use: 'wait CONTAINER [CONTAINER...]',
  short: 'Block until one or more containers stop, then print their exit codes',
  flags: [],
  args: ANY,
  async run(ctx, o) {
    const client = await ctx.client();
    const results = await Promise.allSettled(o.args.map((n) => client.request<WaitResponse>('POST', `/containers/${n}/wait`)));
    const errors: string[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') process.stdout.write(`${r.value.StatusCode}\n`);
      else errors.push((r.reason as Error).message);
    }
    if (errors.length) throw new StatusError(1, errors.join('\n'));
  },
};

export const rename: Command = {
  use: 'rename CONTAINER NEW_NAME',
  short: 'Rename a container',
  flags: [],
  args: [2, 2],
  async run(ctx, o) {
    const [from, to] = o.args.map((s) => s.trim());
    if (!from || !to) throw new StatusError(1, 'Error: Neither old nor new names may be empty');
    await (await ctx.client()).request('POST', `/containers/${from}/rename`, { query: { name: to } });
  },
};

export const top: Command = {
  use: 'top CONTAINER [ps OPTIONS]',
  short: 'Display the running processes of a container',
  flags: [],
  interspersed: false,
  args: [1, Infinity],
  async run(ctx, o) {
    const [name, ...psArgs] = o.args;
    const r = await (await ctx.client()).request<{ Titles: string[]; Processes: string[][] }>(
      'GET', `/containers/${name}/top`, { query: { ps_args: psArgs.length ? psArgs.join(' ') : undefined } });
    const lines = [r.Titles, ...(r.Processes ?? [])].map((l) => l.join('\t') + '\n').join('');
    process.stdout.write(tabwrite(lines, { minwidth: 20, padding: 3 }));
  },
};
