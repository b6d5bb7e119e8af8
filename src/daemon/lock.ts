/**
 * One berthd per data root: an exclusive flock on `<data-root>/berthd.lock`, which holds the owner's pid. The kernel
 * drops the lock with the process, so a daemon killed with SIGKILL leaves nothing stale; the pid is only for the
 * message a second daemon prints.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flock, LOCK_EX } from '../native';

export class DataRootBusy extends Error {}

/** Take the lock before any repair; the fd stays open (close-on-exec, so conmon never inherits it) for the daemon's life. */
export function lockDataRoot(dataRoot: string): number {
  const file = path.join(dataRoot, 'berthd.lock');
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    flock(fd, LOCK_EX);
  } catch (e) {
    fs.closeSync(fd);
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    const holder = readPid(file);
    throw new DataRootBusy(`data root ${dataRoot} is in use by another berthd (pid ${holder ?? 'unknown'}); lock file ${file}`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
  return fd;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
