/**
 * A tiny leveled logger for berthd: text or JSON lines, to stderr (the journal, when run as a service) or to a file
 * rotated by size (when the CLI starts the daemon). Never log credentials or environment values.
 */
import * as fs from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = order.info;
let format: LogFormat = 'text';
let sink: RotatingFile | undefined;

export function setLogLevel(level: Level): void {
  threshold = order[level];
}

export function setLogFormat(f: LogFormat): void {
  format = f;
}

/** Logs go to `file` from now on, rotated to file.1 … file.<keep> when it would pass `maxSize` bytes. */
export function setLogFile(file: string, maxSize = 10 * 1024 * 1024, keep = 5): void {
  sink = new RotatingFile(file, maxSize, keep);
}

/** One log line (pure): `time LEVEL msg k=v …`, or a JSON object with time, level, msg and the fields. */
export function formatLine(f: LogFormat, time: Date, level: Level, msg: string, fields?: Record<string, unknown>): string {
  if (f === 'json') return JSON.stringify({ time: time.toISOString(), level, msg, ...fields }) + '\n';
  const extra = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
  return `${time.toISOString()} ${level.toUpperCase()} ${msg}${extra}\n`;
}

function emit(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (order[level] < threshold) return;
  const line = formatLine(format, new Date(), level, msg, fields);
  if (sink) sink.write(line);
  else process.stderr.write(line);
}

class RotatingFile {
  private fd: number;
  private size: number;

  constructor(private readonly file: string, private readonly maxSize: number, private readonly keep: number) {
    this.fd = fs.openSync(file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  write(line: string): void {
    const data = Buffer.from(line);
    if (this.size > 0 && this.size + data.length > this.maxSize) this.rotate();
    fs.writeSync(this.fd, data);
    this.size += data.length;
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    for (let i = this.keep - 1; i >= 1; i--) {
      if (fs.existsSync(`${this.file}.${i}`)) fs.renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
    }
    fs.renameSync(this.file, `${this.file}.1`);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = 0;
  }
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => emit('debug', m, f),
  info: (m: string, f?: Record<string, unknown>) => emit('info', m, f),
  warn: (m: string, f?: Record<string, unknown>) => emit('warn', m, f),
  error: (m: string, f?: Record<string, unknown>) => emit('error', m, f),
};
