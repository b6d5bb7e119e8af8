/** `stats`: live (or --no-stream) resource usage of containers, as docker/cli's stats command renders it. */
import type { ContainerSummary } from '../../client/types';
import type { EngineClient } from '../../client/engine';
import { bytesSize, humanSizeWithPrecision, truncateId } from '../../common/units';
import { formatFlag } from './util';
import type { Command } from '../cli';
import { renderList } from '../format/formatter';

export const DEFAULT_STATS_FORMAT = 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

export const STATS_HEADER: Record<string, string> = {
  Container: 'CONTAINER', ID: 'CONTAINER ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %',
  NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS',
};

/** The parts of docker's StatsJSON the table uses. */
export interface StatsJson {
  id: string;
  name: string;
  cpu_stats: { cpu_usage: { total_usage: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
  pids_stats: { current?: number };
}

/** One row, computed as docker/cli's calculate* functions. */
export interface StatsEntry {
  container: string;
  id: string;
  name: string;
  cpu: number;
  mem: number;
  limit: number;
  memPerc: number;
  rx: number;
  tx: number;
  read: number;
  write: number;
  pids: number;
  error?: boolean;
}

export function entryFrom(container: string, s: StatsJson): StatsEntry {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus || s.cpu_stats.cpu_usage.percpu_usage?.length || 0;
  const cpu = sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const m = s.memory_stats;
  const usage = m.usage ?? 0;
  const stats = m.stats ?? {};
  // usage without the page cache that could be reclaimed: total_inactive_file (v1) or inactive_file (v2)
  const inactive = 'total_inactive_file' in stats ? stats.total_inactive_file : (stats.inactive_file ?? 0);
  const mem = inactive < usage ? usage - inactive : usage;
  const limit = m.limit ?? 0;
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    else if (op === 'write') write += e.value;
  }
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return {
    container, id: s.id, name: s.name.replace(/^\//, ''), cpu, mem, limit, memPerc: limit ? (mem / limit) * 100 : 0,
    rx, tx, read, write, pids: s.pids_stats.current ?? 0,
  };
}

/** Template fields of one row (docker's statsContext). */
export class StatsContext {
  constructor(private readonly e: StatsEntry, private readonly trunc: boolean) {}
  get Container(): string {
    return this.e.container;
  }
  get ID(): string {
    return this.trunc ? truncateId(this.e.id) : this.e.id;
  }
  get Name(): string {
    return this.e.name || '--';
  }
  get CPUPerc(): string {
    return this.e.error ? '--' : `${this.e.cpu.toFixed(2)}%`;
  }
  get MemUsage(): string {
    return this.e.error ? '-- / --' : `${bytesSize(this.e.mem)} / ${bytesSize(this.e.limit)}`;
  }
  get MemPerc(): string {
    return this.e.error ? '--' : `${this.e.memPerc.toFixed(2)}%`;
  }
  get NetIO(): string {
    return this.e.error ? '--' : `${humanSizeWithPrecision(this.e.rx, 3)} / ${humanSizeWithPrecision(this.e.tx, 3)}`;
  }
  get BlockIO(): string {
    return this.e.error ? '--' : `${humanSizeWithPrecision(this.e.read, 3)} / ${humanSizeWithPrecision(this.e.write, 3)}`;
  }
  get PIDs(): string {
    return this.e.error ? '--' : String(this.e.pids);
  }
}

async function* statsStream(client: EngineClient, name: string): AsyncGenerator<StatsJson> {
  for await (const m of client.ndjson('GET', `/containers/${name}/stats`, { query: { stream: 1 } })) yield m as StatsJson;
}

export const stats: Command = {
  use: 'stats [OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all containers (default shows just running)' },
    formatFlag,
    { name: 'no-stream', kind: 'bool', usage: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" },
  ],
  args: [0, Infinity],
  async run(ctx, o) {
    const client = await ctx.client();
    const v = o.values;
    const format = !(v.format as string) || v.format === 'table' ? DEFAULT_STATS_FORMAT : (v.format as string);
    const trunc = !v['no-trunc'];
    let names = o.args;
    if (names.length === 0) {
      const list = await client.request<ContainerSummary[]>('GET', '/containers/json', { query: { all: v.all ? 1 : undefined } });
      names = (list ?? []).map((c) => c.Id);
    }
    const render = (entries: StatsEntry[]): string => renderList(format, entries.map((e) => new StatsContext(e, trunc)), STATS_HEADER);
    if (v['no-stream']) {
      const results = await Promise.allSettled(names.map((n) => client.request<StatsJson>('GET', `/containers/${n}/stats`, { query: { stream: 0 } })));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      if (errors.length && o.args.length) throw new Error(errors.join('\n'));
      const entries = results.flatMap((r, i) => (r.status === 'fulfilled' ? [entryFrom(names[i], r.value)] : []));
      process.stdout.write(render(entries));
      return;
    }
    const latest = new Map<string, StatsEntry>();
    for (const n of names) {
      void (async () => {
        try {
          for await (const s of statsStream(client, n)) latest.set(n, entryFrom(n, s));
        } catch {
          // the container went away: its row shows dashes, as docker's
        }
        const last = latest.get(n);
        if (last) latest.set(n, { ...last, error: true });
      })();
    }
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000));
      const rows = names.flatMap((n) => (latest.has(n) ? [latest.get(n) as StatsEntry] : []));
      process.stdout.write('\x1b[2J\x1b[H' + render(rows));
    }
  },
};
