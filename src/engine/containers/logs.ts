/** Reading conmon's k8s-file logs (`<RFC3339Nano> <stream> <F|P> <text>`) as docker's `logs` shows them. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError } from '../../common/errors';
import type { StreamId } from '../../common/output';
import { logFiles } from './log-rotate';
import type { ContainerRecord } from './record';

export interface LogRecord {
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  /** The time as docker prints it (RFC3339Nano, UTC, trailing zeros trimmed). */
  time: string;
  stream: 'stdout' | 'stderr';
  /** The bytes written, with the newline restored for full lines. */
  data: Buffer;
}

export interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  /** Number of records from the end; undefined = all. */
  tail?: number;
  sinceNs?: bigint;
  untilNs?: bigint;
}

export interface LogRequest extends LogOptions {
  follow: boolean;
  /** Each record's data prefixed with its time and a space. */
  timestamps: boolean;
}

export interface ContainerLog {
  tty: boolean;
  /**
   * Emits the wanted records; with `follow` and a running container, the new ones until it exited (then the rest) or
   * the function given to `onStop` is called.
   */
  read(o: LogRequest, emit: (stream: StreamId, data: Buffer) => void, onStop: (stop: () => void) => void): Promise<void>;
}

/** docker logs of a container whose log is `file`; 501 when its log driver keeps none. */
export function containerLog(rec: ContainerRecord, file: string, exited: () => Promise<void>): ContainerLog {
  if (!rec.Spec.log.enabled) throw new ApiError(501, 'configured logging driver does not support reading');
  return {
    tty: rec.Config.Tty,
    async read(o, emit, onStop) {
      const each = (r: LogRecord) => emit(r.stream, o.timestamps ? Buffer.concat([Buffer.from(r.time + ' '), r.data]) : r.data);
      const offset = readLogs(file, o, each);
      if (!o.follow || !rec.Instance) return;
      const follower = followLogs(file, offset, { ...o, tail: undefined }, each);
      onStop(follower.stop);
      await exited();
      follower.drain();
    },
  };
}

/** Parse one k8s-file line; undefined for a malformed line (never fatal: a log must stay readable). */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(0x20);
  const s2 = line.indexOf(0x20, s1 + 1);
  const s3 = line.indexOf(0x20, s2 + 1);
  if (s1 < 0 || s2 < 0) return undefined;
  const stamp = line.subarray(0, s1).toString();
  const stream = line.subarray(s1 + 1, s2).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = line.subarray(s2 + 1, s3 < 0 ? line.length : s3).toString();
  const text = s3 < 0 ? Buffer.alloc(0) : line.subarray(s3 + 1);
  const parsed = parseStamp(stamp);
  if (!parsed) return undefined;
  const full = tag.split(':').includes('F');
  return { ...parsed, stream, data: full ? Buffer.concat([text, Buffer.from('\n')]) : Buffer.from(text) };
}

/** conmon writes `2026-11-27T22:36:04.437387760+00:00`; docker prints `2026-11-27T22:36:04.43738776Z`. */
function parseStamp(stamp: string): { timeNs: bigint; time: string } | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const secs = Date.parse(m[1] + m[3]);
  if (Number.isNaN(secs)) return undefined;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  const timeNs = BigInt(secs) * 1_000_000n + BigInt(frac);
  const iso = new Date(secs).toISOString().slice(0, 19);
  const trimmed = frac.replace(/0+$/, '');
  return { timeNs, time: `${iso}${trimmed ? '.' + trimmed : ''}Z` };
}

function wanted(r: LogRecord, o: LogOptions): boolean {
  if (r.stream === 'stdout' ? !o.stdout : !o.stderr) return false;
  if (o.sinceNs !== undefined && r.timeNs < o.sinceNs) return false;
  if (o.untilNs !== undefined && r.timeNs > o.untilNs) return false;
  return true;
}

/** Split a buffer into complete lines; returns the records and how many bytes were consumed. */
function parseChunk(buf: Buffer): { records: LogRecord[]; used: number } {
  const records: LogRecord[] = [];
  let start = 0;
  for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
    const r = parseLogLine(buf.subarray(start, nl));
    if (r) records.push(r);
    start = nl + 1;
  }
  return { records, used: start };
}

/** Bytes read at a time, forwards and backwards: memory follows the answer, not the file. */
const CHUNK = 64 * 1024;

/**
 * Emits the wanted records of the complete lines in [from, to) of an open file, reading forwards in chunks; returns
 * where the last complete line ends (what follows is a line still being written).
 */
function readForward(fd: number, from: number, to: number, o: LogOptions, onRecord: (r: LogRecord) => void): number {
  let done = from;
  let read = from;
  let pending: Buffer[] = []; // bytes after `done` with no newline yet, joined only once one comes
  while (read < to) {
    const chunk = Buffer.alloc(Math.min(CHUNK, to - read));
    const n = fs.readSync(fd, chunk, 0, chunk.length, read);
    if (n === 0) break;
    read += n;
    const got = chunk.subarray(0, n);
    if (got.indexOf(0x0a) < 0) {
      pending.push(got);
      continue;
    }
    const buf = pending.length ? Buffer.concat([...pending, got]) : got;
    const { records, used } = parseChunk(buf);
    done += used;
    for (const r of records) if (wanted(r, o)) onRecord(r);
    pending = used < buf.length ? [buf.subarray(used)] : [];
  }
  return done;
}

/**
 * Calls `each` with the complete lines of the first `size` bytes of an open file, last first, reading backwards in
 * chunks until `each` returns false. Returns where the last complete line ends: bytes past it (a line still being
 * written) are not a line yet, as for the forward reading.
 */
export function linesBackward(fd: number, size: number, each: (line: Buffer) => boolean): number {
  let end = -1; // unknown until the last newline is seen
  let pos = size;
  let head: Buffer[] = []; // the end part of a line that starts before `pos`, in file order
  while (pos > 0) {
    const chunk = Buffer.alloc(Math.min(CHUNK, pos));
    pos -= chunk.length;
    fs.readSync(fd, chunk, 0, chunk.length, pos);
    let stop = chunk.length;
    while (stop > 0) {
      const nl = chunk.lastIndexOf(0x0a, stop - 1);
      if (nl < 0) break;
      if (end < 0) end = pos + nl + 1;
      else if (!each(head.length ? Buffer.concat([chunk.subarray(nl + 1, stop), ...head]) : chunk.subarray(nl + 1, stop))) return end;
      head = [];
      stop = nl;
    }
    if (end >= 0 && stop > 0) head.unshift(chunk.subarray(0, stop));
  }
  if (end < 0) return 0;
  each(Buffer.concat(head)); // the file's first line
  return end;
}

/** Calls `read` with an open file of the log and its size; undefined when the file is gone (rotated away). */
function withFile<T>(f: string, read: (fd: number, size: number) => T): T | undefined {
  let fd: number;
  try {
    fd = fs.openSync(f, 'r');
  } catch {
    return undefined;
  }
  try {
    return read(fd, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
}

/** The last `tail` wanted records (oldest first), read backwards from the live log into the rotated files as needed. */
function readTail(file: string, o: LogOptions, tail: number): { records: LogRecord[]; offset: number } {
  const picked: LogRecord[] = [];
  let offset = 0;
  for (const f of logFiles(file).reverse()) {
    const end = withFile(f, (fd, size) =>
      linesBackward(fd, size, (line) => {
        if (picked.length >= tail) return false;
        const r = parseLogLine(line);
        if (r && wanted(r, o)) picked.push(r);
        return picked.length < tail;
      }),
    );
    if (f === file && end !== undefined) offset = end;
    if (picked.length >= tail) break;
  }
  return { records: picked.reverse(), offset };
}

/**
 * Emits the wanted records of the log and its rotated files, oldest first: the last `o.tail` of them when set (read
 * backwards, only as far as needed), else all of them (streamed forwards). Returns how far the live file was read.
 */
export function readLogs(file: string, o: LogOptions, onRecord: (r: LogRecord) => void): number {
  if (o.tail !== undefined) {
    const { records, offset } = readTail(file, o, o.tail);
    records.forEach(onRecord);
    return offset;
  }
  let offset = 0;
  for (const f of logFiles(file)) {
    const end = withFile(f, (fd, size) => readForward(fd, 0, size, o, onRecord));
    if (end !== undefined) offset = f === file ? end : 0;
  }
  return offset;
}

/**
 * Follow a log from `offset`: calls `onRecord` for each new record until `stop()` is called; `drain()` reads what is
 * left (used once the container exited) and stops. The open file is kept across a rotation: when the path names a new
 * file, the rest of the old one is read first, then the new one from its start.
 */
export function followLogs(file: string, offset: number, o: LogOptions, onRecord: (r: LogRecord) => void) {
  let pos = offset;
  let stopped = false;
  let fd: number | undefined;
  const open = (): boolean => {
    try {
      fd = fs.openSync(file, 'r');
      return true;
    } catch {
      return false;
    }
  };
  const readOpen = (): void => {
    pos = readForward(fd!, pos, fs.fstatSync(fd!).size, o, onRecord);
  };
  const readMore = () => {
    if (stopped || (fd === undefined && !open())) return;
    readOpen();
    let live: number | undefined;
    try {
      live = fs.statSync(file).ino;
    } catch {
      return; // between conmon's unlink and rename: the next look finds the new file
    }
    if (live === fs.fstatSync(fd!).ino) return;
    fs.closeSync(fd!);
    fd = undefined;
    pos = 0;
    if (open()) readOpen();
  };
  let watcher: fs.FSWatcher | undefined;
  try {
    // the directory, not the file: a rotation replaces the file, and the new one must be seen at once
    watcher = fs.watch(path.dirname(file), (_ev, name) => {
      if (name?.toString().startsWith(path.basename(file))) readMore();
    });
    watcher.on('error', () => undefined);
  } catch {
    /* the file may not exist yet: the poll below covers it */
  }
  const poll = setInterval(readMore, 250);
  const stop = () => {
    stopped = true;
    watcher?.close();
    clearInterval(poll);
    if (fd !== undefined) fs.closeSync(fd);
    fd = undefined;
  };
  readMore();
  return {
    stop,
    drain: () => {
      readMore();
      stop();
    },
  };
}

export function parseTimestampArg(v: string | null): bigint | undefined {
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, f = ''] = v.split('.');
    return BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, '0').slice(0, 9));
  }
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : BigInt(ms) * 1_000_000n;
}
