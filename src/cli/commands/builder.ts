/** `builder prune` (POST /build/prune): the build cache, cache mounts included. */
import { ramInBytes } from '../../common/units';
import { StatusError, type Command } from '../cli';
import { forceFlag, prune, pruneBuildCache, pruneFilter } from './system';

export const builderPrune: Command = {
  use: 'prune',
  short: 'Remove build cache',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused build cache, not just dangling ones' },
    pruneFilter,
    forceFlag,
    { name: 'keep-storage', kind: 'string', usage: 'Amount of disk space to keep for cache' },
  ],
  args: [0, 0],
  run: (ctx, o) => {
    const all = o.values.all as boolean;
    let keep: number | undefined;
    if (o.values['keep-storage']) {
      try {
        keep = ramInBytes(o.values['keep-storage'] as string);
      } catch (e) {
        throw new StatusError(1, `invalid argument "${o.values['keep-storage'] as string}" for "--keep-storage" flag: ${(e as Error).message}`);
      }
    }
    const warning = all ? 'WARNING! This will remove all build cache.' : 'WARNING! This will remove all dangling build cache.';
    return prune({ force: o.values.force as boolean }, warning, [() => pruneBuildCache(ctx, o.values.filter as string[], all, keep)]);
  },
};
