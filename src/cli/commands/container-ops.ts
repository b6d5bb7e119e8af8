/** `diff`, `export`, `commit`, `update`: a container's filesystem changes, its files, an image from it, its limits. */
import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ramInBytes } from '../../common/units';
import { StatusError, type Command } from '../cli';
import { nanoCpus, parseRestart, swapBytes } from './container-opts';
import { forEachName } from './util';

const KIND = ['C', 'A', 'D'];

export const diff: Command = {
  use: 'diff CONTAINER',
  short: "Inspect changes to files or directories on a container's filesystem",
  flags: [],
  args: [1, 1],
  async run(ctx, o) {
    const changes = await (await ctx.client()).request<{ Path: string; Kind: number }[] | null>('GET', `/containers/${o.args[0]}/changes`);
    process.stdout.write((changes ?? []).map((c) => `${KIND[c.Kind]} ${c.Path}\n`).join(''));
  },
};

export const exportContainer: Command = {
  use: 'export [OPTIONS] CONTAINER',
  short: "Export a container's filesystem as a tar archive",
  flags: [{ name: 'output', short: 'o', kind: 'string', usage: 'Write to a file, instead of STDOUT' }],
  args: [1, 1],
  async run(ctx, o) {
    const file = o.values.output as string;
    if (!file && process.stdout.isTTY) throw new StatusError(1, 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await (await ctx.client()).stream('GET', `/containers/${o.args[0]}/export`);
    if (file) {
      const tmp = `${file}.tmp-${process.pid}`;
      await pipeline(res, fs.createWriteStream(tmp));
      fs.renameSync(tmp, file);
    } else await pipeline(res, process.stdout as Writable, { end: false });
  },
};

export const commit: Command = {
  use: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  short: "Create a new image from a container's changes",
  flags: [
    { name: 'author', short: 'a', kind: 'string', usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', kind: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', kind: 'string', usage: 'Commit message' },
    { name: 'pause', short: 'p', kind: 'bool', usage: 'Pause container during commit', default: true },
  ],
  args: [1, 2],
  async run(ctx, o) {
    const v = o.values;
    const [container, ref] = o.args;
    let repo: string | undefined;
    let tag: string | undefined;
    if (ref) {
      const colon = ref.lastIndexOf(':');
      if (colon > ref.lastIndexOf('/')) [repo, tag] = [ref.slice(0, colon), ref.slice(colon + 1)];
      else repo = ref;
    }
    const res = await (await ctx.client()).request<{ Id: string }>('POST', '/commit', {
      query: {
        container, repo, tag, comment: (v.message as string) || undefined, author: (v.author as string) || undefined,
        pause: v.pause as boolean, changes: v.change as string[],
      },
      body: {},
    });
    process.stdout.write(res.Id + '\n');
  },
};

export const update: Command = {
  use: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Update configuration of one or more containers',
  flags: [
    { name: 'blkio-weight', kind: 'int', varname: 'uint16', usage: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
    { name: 'cpu-period', kind: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) period' },
    { name: 'cpu-quota', kind: 'int', usage: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
    { name: 'cpu-shares', short: 'c', kind: 'int', usage: 'CPU shares (relative weight)' },
    { name: 'cpus', kind: 'string', varname: 'decimal', usage: 'Number of CPUs', check: (x) => void nanoCpus(x) },
    { name: 'cpuset-cpus', kind: 'string', usage: 'CPUs in which to allow execution (0-3, 0,1)' },
    { name: 'cpuset-mems', kind: 'string', usage: 'MEMs in which to allow execution (0-3, 0,1)' },
    { name: 'kernel-memory', kind: 'string', varname: 'bytes', usage: 'Kernel memory limit', check: (x) => void ramInBytes(x) },
    { name: 'memory', short: 'm', kind: 'string', varname: 'bytes', usage: 'Memory limit', check: (x) => void ramInBytes(x) },
    { name: 'memory-reservation', kind: 'string', varname: 'bytes', usage: 'Memory soft limit', check: (x) => void ramInBytes(x) },
    { name: 'memory-swap', kind: 'string', varname: 'bytes', usage: "Swap limit equal to memory plus swap: -1 to enable unlimited swap", check: (x) => void swapBytes(x) },
    { name: 'pids-limit', kind: 'int', usage: 'Tune container pids limit (set -1 for unlimited)' },
    { name: 'restart', kind: 'string', usage: 'Restart policy to apply when a container exits', check: (x) => void parseRestart(x) },
  ],
  args: [1, Infinity],
  async run(ctx, o) {
    const v = o.values;
    const S = (k: string): string => v[k] as string;
    const N = (k: string): number => v[k] as number;
    const ch = o.changed;
    if (ch.size === 0) throw new StatusError(1, 'you must provide one or more flags when using this command');
    const body = {
      BlkioWeight: N('blkio-weight'),
      CpuPeriod: N('cpu-period'),
      CpuQuota: N('cpu-quota'),
      CpuShares: N('cpu-shares'),
      NanoCpus: S('cpus') ? nanoCpus(S('cpus')) : 0,
      CpusetCpus: S('cpuset-cpus'),
      CpusetMems: S('cpuset-mems'),
      KernelMemory: S('kernel-memory') ? ramInBytes(S('kernel-memory')) : 0,
      Memory: S('memory') ? ramInBytes(S('memory')) : 0,
      MemoryReservation: S('memory-reservation') ? ramInBytes(S('memory-reservation')) : 0,
      MemorySwap: S('memory-swap') ? swapBytes(S('memory-swap')) : 0,
      ...(ch.has('pids-limit') ? { PidsLimit: N('pids-limit') } : {}),
      RestartPolicy: ch.has('restart') ? parseRestart(S('restart')) : { Name: '', MaximumRetryCount: 0 },
    };
    const client = await ctx.client();
    const warnings: string[] = [];
    await forEachName(o.args, async (n) => {
      const r = await client.request<{ Warnings: string[] | null }>('POST', `/containers/${n}/update`, { body });
      warnings.push(...(r?.Warnings ?? []));
    }, (n) => process.stdout.write(n + '\n'));
    for (const w of warnings) process.stderr.write(w + '\n');
  },
};
