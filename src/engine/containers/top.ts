/** docker top: the host's `ps` filtered to the processes in the container's PID namespace. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { badRequest, conflict } from '../../common/errors';
import type { ContainerRecord } from './record';

const runFile = promisify(execFile);

export interface TopResult { Titles: string[]; Processes: string[][] }

export async function top(rec: ContainerRecord, psArgs: string): Promise<TopResult> {
  if (!rec.State.Running) throw conflict(`Container ${rec.Id} is not running`);
  const ns = (pid: string) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const want = ns(String(rec.State.Pid));
  const pids = new Set(fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && want !== undefined && ns(p) === want));
  const { stdout } = await runFile('ps', psArgs.split(/\s+/).filter(Boolean)).catch((e: Error) => {
    throw badRequest(`Error running ps: ${e.message}`);
  });
  const lines = stdout.split('\n').filter(Boolean);
  const titles = lines[0].trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw badRequest(`Couldn't find PID field in ps output`);
  const rows = lines.slice(1).map((l) => {
    const parts = l.trim().split(/\s+/);
    return [...parts.slice(0, titles.length - 1), parts.slice(titles.length - 1).join(' ')];
  });
  return { Titles: titles, Processes: rows.filter((row) => pids.has(row[pidCol])) };
}
