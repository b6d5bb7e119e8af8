/**
 * GET /containers/{id}/stats: docker's StatsJSON from the container's cgroup counters (v1 and v2), its network
 * namespace's /proc/<pid>/net/dev, and /proc/stat for the host's CPU time. One sample is `read`; the previous one
 * becomes `precpu_stats` (docker's CLI computes CPU % from the two). `streamStats` is the polling loop.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ContainerCgroup } from '../../runtime/cgroupfs';
import type { ContainerRecord } from './record';

const ZERO_TIME = '0001-01-01T00:00:00Z';
const STATS_INTERVAL_MS = 1000;
/** USER_HZ: /proc/stat and cpuacct.stat count in 1/100 s on Linux. */
const NS_PER_TICK = 10_000_000;

interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface BlkioEntry { major: number; minor: number; op: string; value: number }

export interface StatsJson {
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: Record<string, BlkioEntry[] | null>;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  name: string;
  id: string;
  networks?: Record<string, Record<string, number>>;
}

const emptyCpu = (): CpuStats => ({
  cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
  throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
});

/** The stats of a container that is not running: docker's all-zero shape. */
export function emptyStats(rec: ContainerRecord): StatsJson {
  return {
    read: ZERO_TIME, preread: ZERO_TIME, pids_stats: {}, num_procs: 0, storage_stats: {},
    blkio_stats: { io_service_bytes_recursive: null, io_serviced_recursive: null, io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null, io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null },
    cpu_stats: emptyCpu(), precpu_stats: emptyCpu(), memory_stats: {}, name: rec.Name, id: rec.Id,
  };
}

/** Host CPU time in ns (sum of the first line of /proc/stat), as docker's getSystemCPUUsage. */
export function systemCpuNs(procStat = fs.readFileSync('/proc/stat', 'utf8')): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  return line.trim().split(/\s+/).slice(1, 8).reduce((sum, v) => sum + Number(v), 0) * NS_PER_TICK;
}

/** /proc/<pid>/net/dev -> docker's per-interface counters (loopback left out, as docker lists endpoints only). */
export function parseNetDev(text: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo') continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    out[name] = {
      rx_bytes: f[0], rx_packets: f[1], rx_errors: f[2], rx_dropped: f[3],
      tx_bytes: f[8], tx_packets: f[9], tx_errors: f[10], tx_dropped: f[11],
    };
  }
  return out;
}

/** v1 blkio "8:0 Read 4096" lines (the Total lines dropped) -> entries. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/** v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." -> [bytes, ios] in docker's v1-like form. */
export function parseIoStatV2(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(kvs.map((p) => p.split('=')).map(([k, v]) => [k, Number(v)]));
    const at = { major: Number(m[1]), minor: Number(m[2]) };
    bytes.push({ ...at, op: 'read', value: kv.rbytes ?? 0 }, { ...at, op: 'write', value: kv.wbytes ?? 0 });
    ios.push({ ...at, op: 'read', value: kv.rios ?? 0 }, { ...at, op: 'write', value: kv.wios ?? 0 });
  }
  return { bytes, ios };
}

function cpuV1(cg: ContainerCgroup): CpuStats {
  const acct = cg.keyed('cpuacct', 'cpuacct.stat');
  const percpu = (cg.read('cpuacct', 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const thr = cg.keyed('cpu', 'cpu.stat');
  return {
    cpu_usage: {
      total_usage: cg.num('cpuacct', 'cpuacct.usage') ?? 0,
      percpu_usage: percpu,
      usage_in_kernelmode: (acct.system ?? 0) * NS_PER_TICK,
      usage_in_usermode: (acct.user ?? 0) * NS_PER_TICK,
    },
    throttling_data: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
  };
}

function cpuV2(cg: ContainerCgroup): CpuStats {
  const st = cg.keyed('cpu', 'cpu.stat');
  return {
    cpu_usage: {
      total_usage: (st.usage_usec ?? 0) * 1000,
      usage_in_kernelmode: (st.system_usec ?? 0) * 1000,
      usage_in_usermode: (st.user_usec ?? 0) * 1000,
    },
    throttling_data: { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 },
  };
}

/** One sample of a running container; `prev` (the last sample) fills precpu_stats and preread. */
export function sample(rec: ContainerRecord, prev?: StatsJson): StatsJson {
  const cg = new ContainerCgroup(rec.Id);
  const host = os.totalmem();
  const cpu = cg.v2 ? cpuV2(cg) : cpuV1(cg);
  cpu.system_cpu_usage = systemCpuNs();
  cpu.online_cpus = os.cpus().length;
  const memStats = cg.keyed('memory', 'memory.stat');
  const limit = cg.v2 ? cg.num('memory', 'memory.max') : cg.num('memory', 'memory.limit_in_bytes');
  const memory_stats = {
    usage: (cg.v2 ? cg.num('memory', 'memory.current') : cg.num('memory', 'memory.usage_in_bytes')) ?? 0,
    ...(cg.v2 ? {} : { max_usage: cg.num('memory', 'memory.max_usage_in_bytes') ?? 0, failcnt: cg.num('memory', 'memory.failcnt') ?? 0 }),
    stats: memStats,
    // no limit (or one above the machine): the machine's memory, as docker reports it
    limit: limit === undefined || limit > host ? host : limit,
  };
  let blkio: StatsJson['blkio_stats'];
  if (cg.v2) {
    const io = parseIoStatV2(cg.read('io', 'io.stat'));
    blkio = { ...emptyStats(rec).blkio_stats, io_service_bytes_recursive: io.bytes, io_serviced_recursive: io.ios };
  } else {
    blkio = {
      ...emptyStats(rec).blkio_stats,
      io_service_bytes_recursive: parseBlkioV1(cg.read('blkio', 'blkio.throttle.io_service_bytes_recursive')),
      io_serviced_recursive: parseBlkioV1(cg.read('blkio', 'blkio.throttle.io_serviced_recursive')),
    };
  }
  let networks: StatsJson['networks'];
  if (rec.Spec.network.kind !== 'host') try {
    networks = parseNetDev(fs.readFileSync(`/proc/${rec.State.Pid}/net/dev`, 'utf8'));
  } catch {
    networks = undefined; // exited between the check and the read
  }
  const pidsLimit = cg.num('pids', 'pids.max');
  return {
    read: new Date().toISOString(),
    preread: prev?.read ?? ZERO_TIME,
    pids_stats: { current: cg.num('pids', 'pids.current') ?? 0, ...(pidsLimit !== undefined ? { limit: pidsLimit } : {}) },
    blkio_stats: blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    precpu_stats: prev?.cpu_stats ?? emptyCpu(),
    memory_stats,
    name: rec.Name,
    id: rec.Id,
    ...(networks && Object.keys(networks).length ? { networks } : {}),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * docker's stats stream: a sample every second while the container runs and the client listens (`closed`), one
 * only with `stream` false; a container not running gets the all-zero shape once.
 */
export async function streamStats(
  rec: ContainerRecord, o: { stream: boolean; oneShot: boolean }, write: (s: StatsJson) => void, closed: () => boolean,
): Promise<void> {
  const running = () => rec.State.Running && !rec.State.Restarting && !!rec.Instance;
  if (!running()) {
    write(emptyStats(rec));
    return;
  }
  // docker: without one-shot the first reply already has precpu_stats, from a sample one interval earlier
  let prev: StatsJson | undefined = o.oneShot ? undefined : sample(rec);
  if (prev) await sleep(STATS_INTERVAL_MS);
  while (!closed() && running()) {
    const s = sample(rec, prev);
    write(s);
    if (!o.stream) break;
    prev = s;
    await sleep(STATS_INTERVAL_MS);
  }
}
