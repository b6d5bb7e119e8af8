/** A stream through a child process (zstd -d, pigz): src → its stdin, its stdout → the returned stream. */
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';

export interface PipeOptions {
  /** Names the program in a failure: `<name>: <its stderr or exit status>`. */
  name: string;
  highWaterMark?: number;
  /** Maps a spawn failure (ENOENT: not installed) to the error the caller reports. */
  spawnError?: (e: NodeJS.ErrnoException) => Error;
}

/** The output ends only on exit status 0; any failure of src or the child destroys it, and the child dies with it. */
export function pipeThrough(src: Readable, program: string, args: string[], opts: PipeOptions): Readable {
  const out = new PassThrough(opts.highWaterMark === undefined ? {} : { highWaterMark: opts.highWaterMark });
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('error', (e: NodeJS.ErrnoException) => out.destroy(opts.spawnError ? opts.spawnError(e) : e));
  child.stdin.on('error', () => undefined); // EPIPE when the program fails; its exit status says why
  src.on('error', (e) => out.destroy(e)); // out's close below kills the child
  src.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`${opts.name}: ${stderr.trim() || `exit status ${code}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}
