/** `logs`: inspect for Config.Tty, then GET /logs, demultiplexed unless the container has a TTY (trace §7). */
import { demultiplex } from '../../client/stream';
import type { Command } from '../cli';
import { sinceParam } from './timeparam';

export const logs: Command = {
  use: 'logs [OPTIONS] CONTAINER',
  short: 'Fetch the logs of a container',
  flags: [
    { name: 'details', kind: 'bool', usage: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', kind: 'bool', usage: 'Follow log output' },
    { name: 'since', kind: 'string', usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    { name: 'tail', short: 'n', kind: 'string', usage: 'Number of lines to show from the end of the logs', default: 'all' },
    { name: 'timestamps', short: 't', kind: 'bool', usage: 'Show timestamps' },
    { name: 'until', kind: 'string', usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  ],
  args: [1, 1],
  async run(ctx, o) {
    const v = o.values;
    const name = o.args[0];
    const client = await ctx.client();
    const c = await client.request<{ Config: { Tty: boolean } }>('GET', `/containers/${name}/json`);
    const now = Date.now();
    const res = await client.stream('GET', `/containers/${name}/logs`, {
      query: {
        stdout: 1,
        stderr: 1,
        follow: v.follow ? 1 : undefined,
        timestamps: v.timestamps ? 1 : undefined,
        details: v.details ? 1 : undefined,
        since: v.since ? sinceParam(v.since as string, now) : undefined,
        until: v.until ? sinceParam(v.until as string, now) : undefined,
        tail: v.tail as string,
      },
    });
    if (c.Config.Tty) {
      res.pipe(process.stdout, { end: false });
      await new Promise<void>((resolve, reject) => res.on('end', resolve).on('error', reject));
    } else await demultiplex(res, process.stdout, process.stderr);
  },
};
