/**
 * Log drivers and rotation of conmon's k8s-file log (docker's `--log-opt max-size=, max-file=`).
 *
 * conmon's `--log-size-max` caps the file but keeps no history: past the cap it opens `<log>.tmp` and renames it over
 * the log, so the old file is simply unlinked. Berth keeps a second hard link (`<log>.hold`) to the file conmon is
 * writing; when the log's inode changes, the held file is the one just filled: it is shifted into `<log>.1` (older
 * ones to `.2` … up to max-file - 1) and the hold moves to the new file. Files stay within max-size (conmon enforces
 * it as it writes, which a watcher could not); if conmon fills two files before Berth looks, the middle one is lost.
 */
import * as fs from 'node:fs';
import { badRequest } from '../../common/errors';
import { log } from '../../common/log';

export interface LogConfig {
  Type?: string;
  Config?: Record<string, string> | null;
}

export interface LogPolicy {
  /** false for `--log-driver none`: no log file at all. */
  enabled: boolean;
  /** Bytes per file; undefined = no cap. */
  maxSize?: number;
  /** Files kept, the live one included. */
  maxFile: number;
}

/** Drivers whose on-disk log `logs` can read; they all map to conmon's k8s-file. */
const FILE_DRIVERS = ['json-file', 'local', 'k8s-file'];
const FILE_OPTS = ['max-size', 'max-file', 'compress', 'mode', 'max-buffer-size', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'];

/** The LogConfig stored in a new record: the driver named (json-file by default) with the daemon's options under it. */
export function resolveLogConfig(cfg: LogConfig | undefined, daemonOpts: Record<string, string>): Required<LogConfig> {
  const type = cfg?.Type || 'json-file';
  const own = cfg?.Config ?? {};
  const merged: Record<string, string> = cfg?.Type && cfg.Type !== 'json-file' ? { ...own } : { ...daemonOpts, ...own };
  // sorted keys, as Go marshals a map (inspect shows them so)
  const config = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : 1)));
  logPolicy({ Type: type, Config: config }); // refuse bad options at create, as docker
  return { Type: type, Config: config };
}

/** What a stored LogConfig asks of the log file; throws docker's messages for what it cannot do. */
export function logPolicy(cfg: LogConfig | undefined): LogPolicy {
  const type = cfg?.Type || 'json-file';
  const opts = cfg?.Config ?? {};
  if (type === 'none') {
    const bad = Object.keys(opts)[0];
    if (bad !== undefined) throw badRequest(`unknown log opt '${bad}' for none log driver`);
    return { enabled: false, maxFile: 1 };
  }
  if (!FILE_DRIVERS.includes(type)) throw badRequest(`logger: no log driver named '${type}' is registered`);
  for (const k of Object.keys(opts)) if (!FILE_OPTS.includes(k)) throw badRequest(`unknown log opt '${k}' for ${type} log driver`);
  const maxSize = opts['max-size'] ? humanSize(opts['max-size']) : undefined;
  const maxFile = opts['max-file'] ? Number(opts['max-file']) : 1;
  if (!Number.isInteger(maxFile)) throw badRequest(`invalid max-file: ${opts['max-file']}`);
  if (maxFile < 1) throw badRequest('max-file cannot be less than 1');
  if (maxFile > 1 && maxSize === undefined) throw badRequest('max-file can only be used with max-size');
  return { enabled: true, maxSize, maxFile };
}

/** units.FromHumanSize, as docker's json-file reads max-size: decimal multiples ("10k" = 10000). */
export function humanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(s.trim());
  const n = m ? Math.trunc(Number(m[1]) * 1000 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase())) : NaN;
  if (!(n > 0)) throw badRequest(`invalid max-size: ${s}`);
  return n;
}

/** The log's files, oldest first: `<log>.N` … `<log>.1`, then the live `<log>` (those that exist). */
export function logFiles(logPath: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; fs.existsSync(`${logPath}.${i}`); i++) rotated.unshift(`${logPath}.${i}`);
  return [...rotated, logPath];
}

const POLL_MS = 500;

/** Watches the logs of running containers with a size cap and shifts filled files into the rotation. */
export class LogRotator {
  private readonly watched = new Map<string, () => void>();

  watch(id: string, logPath: string, policy: LogPolicy): void {
    this.stop(id);
    if (!policy.enabled || policy.maxSize === undefined) return;
    const check = (): void => {
      try {
        rotateIfReplaced(logPath, policy.maxFile);
      } catch (e) {
        log.warn('log rotation failed', { id, e: String(e) });
      }
    };
    const dir = logPath.slice(0, logPath.lastIndexOf('/'));
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(dir, (_ev, name) => {
        if (name?.toString().startsWith('ctr.log')) check();
      });
      watcher.on('error', () => undefined);
      watcher.unref();
    } catch {
      /* the poll covers it */
    }
    const timer = setInterval(check, POLL_MS);
    timer.unref();
    check();
    this.watched.set(id, () => {
      watcher?.close();
      clearInterval(timer);
      check(); // the last file conmon filled before the exit
    });
  }

  stop(id: string): void {
    this.watched.get(id)?.();
    this.watched.delete(id);
  }
}

/** One rotation step (idempotent): if the held file is no longer the live log, shift it in and hold the live one. */
export function rotateIfReplaced(logPath: string, maxFile: number): void {
  const hold = `${logPath}.hold`;
  const live = statIno(logPath);
  const held = statIno(hold);
  if (live === undefined || live === held) return;
  if (held !== undefined) {
    if (maxFile > 1) {
      fs.rmSync(`${logPath}.${maxFile - 1}`, { force: true });
      for (let i = maxFile - 2; i >= 1; i--) if (fs.existsSync(`${logPath}.${i}`)) fs.renameSync(`${logPath}.${i}`, `${logPath}.${i + 1}`);
      fs.renameSync(hold, `${logPath}.1`);
    } else fs.rmSync(hold);
  }
  fs.linkSync(logPath, hold);
}

function statIno(p: string): number | undefined {
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
}
