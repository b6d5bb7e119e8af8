/**
 * Time commands side by side, interleaved: every round runs each command once (the starting one rotates), so load
 * from other work on the machine falls on all of them alike, unlike hyperfine's one-command-after-another runs.
 * Input (argv[2]): a JSON file `[{ "name", "cmd": [argv...], "prepare"?: "shell line, untimed, before each run",
 * "cpuOf"?: pid }]`. With cpuOf, the CPU seconds that process (a daemon) spent during each run are recorded too (its
 * threads and the children it waited for): unlike wall time, hardly moved by other load on the machine.
 * Output (stdout): JSON `{ name: { median, runs, cpuMedian?, cpu? } }` in seconds, over RUNS rounds after WARMUP rounds.
 * A command that fails gets `median: null` and its stderr on ours; the others go on.
 * Run: node dist/bench/interleave.js spec.json   (env RUNS=7 WARMUP=2)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

interface Entry {
  name: string;
  cmd: string[];
  prepare?: string;
  cpuOf?: number;
}

const RUNS = Number(process.env.RUNS ?? 7);
const WARMUP = Number(process.env.WARMUP ?? 2);

/** utime + stime + cutime + cstime of a process, in seconds (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return fields.slice(11, 15).reduce((a, f) => a + Number(f), 0) / 100;
}

function once(e: Entry): { wall: number; cpu?: number } | undefined {
  if (e.prepare) spawnSync('bash', ['-c', e.prepare], { stdio: 'ignore' });
  const c0 = e.cpuOf ? cpuSeconds(e.cpuOf) : 0;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(e.cmd[0], e.cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status === 0) return { wall, cpu: e.cpuOf ? cpuSeconds(e.cpuOf) - c0 : undefined };
  process.stderr.write(`interleave: ${e.name} failed (${r.status ?? r.signal}): ${r.stderr?.toString().trim().slice(-400)}\n`);
  return undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const entries = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as Entry[];
const runs = new Map<string, number[]>(entries.map((e) => [e.name, []]));
const cpus = new Map<string, number[]>(entries.map((e) => [e.name, []]));
const failed = new Set<string>();
for (let round = 0; round < WARMUP + RUNS; round++) {
  for (let k = 0; k < entries.length; k++) {
    const e = entries[(round + k) % entries.length];
    if (failed.has(e.name)) continue;
    const s = once(e);
    if (s === undefined) failed.add(e.name);
    else if (round >= WARMUP) {
      runs.get(e.name)!.push(s.wall);
      if (s.cpu !== undefined) cpus.get(e.name)!.push(s.cpu);
    }
  }
}
const out: Record<string, { median: number | null; runs: number[]; cpuMedian?: number; cpu?: number[] }> = {};
for (const e of entries) {
  const xs = runs.get(e.name)!;
  const cs = cpus.get(e.name)!;
  out[e.name] = { median: failed.has(e.name) || !xs.length ? null : median(xs), runs: xs, ...(cs.length ? { cpuMedian: median(cs), cpu: cs } : {}) };
}
console.log(JSON.stringify(out));
