/** `ps` / `container ls`. */
import type { ContainerSummary } from '../../client/types';
import type { Command } from '../cli';
import { ContainerContext, PS_HEADER, psFormat } from '../format/containers';
import { renderList } from '../format/formatter';
import { filterFlag, filtersQuery, formatFlag } from './util';

export const ps: Command = {
  use: 'ps [OPTIONS]',
  short: 'List containers',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all containers (default shows just running)' },
    filterFlag,
    formatFlag,
    { name: 'last', short: 'n', kind: 'int', usage: 'Show n last created containers (includes all states)', default: -1 },
    { name: 'latest', short: 'l', kind: 'bool', usage: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display container IDs' },
    { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes' },
  ],
  args: [0, 0],
  async run(ctx, o) {
    const v = o.values;
    let last = v.last as number;
    if (v.latest && last === -1) last = 1;
    const format = psFormat(v.format as string, v.quiet as boolean, v.size as boolean);
    const size = (v.size as boolean) || (!v.quiet && /\.Size\b/.test(format));
    const list = await (await ctx.client()).request<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: v.all || last > 0 ? 1 : undefined,
        limit: last > 0 ? last : undefined,
        size: size ? 1 : undefined,
        filters: filtersQuery(v.filter as string[]),
      },
    });
    const now = Date.now();
    const rows = (list ?? []).map((c) => new ContainerContext(c, !v['no-trunc'], now));
    process.stdout.write(renderList(format, rows, PS_HEADER));
  },
};
