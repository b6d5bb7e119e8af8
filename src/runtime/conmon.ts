/**
 * ContainerRuntime over conmon + an OCI runtime (crun or runc), launched as podman does (stack-probe §2): conmon
 * detaches (own session, re-parented to init) so containers outlive berthd; it runs `<runtime> create`, reports the
 * container pid on the sync pipe (fd 3), writes the k8s-file log, and the exit code to <runRoot>/exits/<id>.
 *
 * Layout under runRoot:  exits/<id> (exit codes)  s/<id12> -> bundle (attach socket links; kept short for sun_path)
 *                        ctr/<id>/ (conmon pid files, persist dir)  state/<runtime>/ (the runtime's --root)
 * Over ~400 lines: the one driver of conmon and the runtime; its parts (attach socket, cgroups) are modules already.
 */
import { execFile, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log } from '../common/log';
import { isRootless } from '../common/rootless';
import { which } from '../common/which';
import { connectAttach, type AttachSocket } from './attach-socket';
import type { ContainerRuntime, CreateRequest, ExecHandle, ExecRequest, RuntimeName, RuntimeState } from './types';

export interface ConmonOptions {
  /** e.g. /run/berth: tmpfs, wiped at boot, like the runtimes' own state. */
  runRoot: string;
  runtimePaths: Record<RuntimeName, string>;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  conmonPath?: string;
}

/** Error from a runtime or conmon, carrying the tool's own message (e.g. crun's "executable file `x` not found"). */
export class RuntimeError extends Error {}

export interface RuntimeInventory {
  states: { id: string; runtime: RuntimeName }[];
  /** ctr/<id> */
  dirs: string[];
  exits: string[];
  /** conmon processes of this run root (their --socket-dir-path is ours); `exec`: an exec session's. */
  conmons: { pid: number; id: string; exec: boolean }[];
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function conmonProcesses(sockDir: string): RuntimeInventory['conmons'] {
  const out: RuntimeInventory['conmons'] = [];
  for (const name of listDir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    if (path.basename(argv[0]) !== 'conmon' || argv[argv.indexOf('--socket-dir-path') + 1] !== sockDir) continue;
    out.push({ pid: Number(name), id: argv[argv.indexOf('-c') + 1] ?? '', exec: argv.includes('-e') });
  }
  return out;
}

/** SIGKILL a conmon's process group (it leads one: it is started detached) and wait until conmon is gone. */
export async function stopConmon(pid: number): Promise<void> {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
  await processGone(pid);
}

/** Wait (up to 5 s) until a process has exited; with no parent left to reap it, init does, at once. */
export async function processGone(pid: number): Promise<void> {
  for (let i = 0; i < 100 && pid > 0 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
}

/** sun_path is 108 bytes: the attach link name is a 12-hex prefix, so runRoot may be up to ~85 characters. */
const SOCK_NAME_LEN = 12;
const SUN_PATH_MAX = 107;
const RESCAN_MS = 2000;
const CONTAINER_ID = /^[0-9a-f]{64}$/;
/** crun's global options in a rootless daemon: cgroups off, it could not create them (see rootless/cgroups.ts). */
const ROOTLESS_CRUN_ARGS = ['--cgroup-manager=disabled'];
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class ConmonRuntime implements ContainerRuntime {
  private readonly exitDir: string;
  private readonly sockDir: string;
  private readonly ctrDir: string;
  private readonly listeners: ((id: string, code: number) => void)[] = [];
  /** Exit files already reported, by id, with the identity of the file reported (a restart writes a new one). */
  private readonly reported = new Map<string, string>();
  private watching = false;
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Found on PATH once: a bare name made every start try each PATH entry (an exec each) before the right one. */
  private readonly conmonBin: string;

  constructor(private readonly opts: ConmonOptions) {
    this.conmonBin = opts.conmonPath ?? which('conmon', process.env.PATH ?? DEFAULT_PATH) ?? 'conmon';
    this.exitDir = path.join(opts.runRoot, 'exits');
    this.sockDir = path.join(opts.runRoot, 's');
    this.ctrDir = path.join(opts.runRoot, 'ctr');
    if (`${this.sockDir}/${'x'.repeat(SOCK_NAME_LEN)}/attach`.length > SUN_PATH_MAX) {
      throw new Error(`runRoot ${opts.runRoot} is too long for attach socket paths (max ${SUN_PATH_MAX} bytes)`);
    }
    for (const d of [this.exitDir, this.sockDir, this.ctrDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }

  /** The runtime's options before its command: state root, and crun's cgroup manager for a rootless daemon. */
  private globalArgs(runtime: RuntimeName): string[] {
    return ['--root', this.stateRoot(runtime), ...(runtime === 'crun' && isRootless() ? ROOTLESS_CRUN_ARGS : [])];
  }

  private stateRoot(runtime: RuntimeName): string {
    return path.join(this.opts.runRoot, 'state', runtime);
  }

  private sockLink(id: string): string {
    return path.join(this.sockDir, id.slice(0, SOCK_NAME_LEN));
  }

  /** The BPF program crun compiled for a created container (crun keeps it in its state dir); runc has none. */
  compiledSeccomp(id: string, runtime: RuntimeName): Buffer | undefined {
    if (runtime !== 'crun') return undefined;
    try {
      return fs.readFileSync(path.join(this.stateRoot(runtime), id, 'seccomp.bpf'));
    } catch {
      return undefined;
    }
  }

  /** Run `<runtime> --root R args...`; rejects with the runtime's stderr text. */
  private run(runtime: RuntimeName, args: string[]): Promise<string> {
    const bin = this.opts.runtimePaths[runtime];
    return new Promise((resolve, reject) => {
      execFile(bin, [...this.globalArgs(runtime), ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new RuntimeError(cleanMessage(stderr) || `${runtime} ${args[0]} failed: ${err.message}`));
        else resolve(stdout);
      });
    });
  }

  /** The runtime keeps one directory per container under its root: absent means "no such container". */
  private exists(id: string, runtime: RuntimeName): boolean {
    return fs.existsSync(path.join(this.stateRoot(runtime), id));
  }

  async create(req: CreateRequest): Promise<{ pid: number; conmonPid: number }> {
    const dir = path.join(this.ctrDir, req.id);
    // conmon writes persist/exit before exits/<id>, and does not create the directory itself.
    fs.mkdirSync(path.join(dir, 'persist'), { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.stateRoot(req.runtime), { recursive: true, mode: 0o700 });
    // A previous run's exit file would be mistaken for this run's exit.
    fs.rmSync(path.join(this.exitDir, req.id), { force: true });
    this.reported.delete(req.id);
    fs.rmSync(this.sockLink(req.id), { force: true });

    const args = [
      '--api-version', '1',
      '-c', req.id,
      '-u', req.id.slice(0, SOCK_NAME_LEN),
      '-n', req.name,
      '-r', this.opts.runtimePaths[req.runtime],
      '-b', req.bundleDir,
      '-p', path.join(dir, 'pid'),
      '-P', path.join(dir, 'conmon.pid'),
      '-l', req.logPath ? `k8s-file:${req.logPath}` : 'none',
      '--exit-dir', this.exitDir,
      '-0', path.join(dir, 'persist'),
      '--socket-dir-path', this.sockDir,
      ...this.globalArgs(req.runtime).flatMap((a) => ['--runtime-arg', a]),
      '--no-sync-log',
      '--log-level', this.opts.logLevel ?? 'warn',
    ];
    if (req.logPath && req.logSizeMax) args.push('--log-size-max', String(req.logSizeMax));
    if (req.tty) args.push('-t');
    if (req.openStdin) args.push('-i');
    if (req.openStdin && !req.stdinOnce) args.push('--leave-stdin-open');

    const child = spawn(this.conmonBin, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? DEFAULT_PATH, _OCI_SYNCPIPE: '3' },
    });
    child.unref();
    const msg = await readSyncMessage(child.stdio[3] as NodeJS.ReadableStream, child);
    if (typeof msg.data !== 'number' || msg.data <= 0) {
      throw new RuntimeError(cleanMessage(msg.message ?? '') || `conmon failed to create container ${req.id}`);
    }
    const conmonPid = Number(fs.readFileSync(path.join(dir, 'conmon.pid'), 'utf8').trim());
    this.watch();
    return { pid: msg.data, conmonPid };
  }

  async start(id: string, runtime: RuntimeName): Promise<void> {
    await this.run(runtime, ['start', id]);
  }

  async kill(id: string, runtime: RuntimeName, signal: string): Promise<void> {
    await this.run(runtime, ['kill', id, signal.replace(/^SIG/i, '').toUpperCase()]);
  }

  async pause(id: string, runtime: RuntimeName): Promise<void> {
    await this.run(runtime, ['pause', id]);
  }

  async resume(id: string, runtime: RuntimeName): Promise<void> {
    await this.run(runtime, ['resume', id]);
  }

  async delete(id: string, runtime: RuntimeName, force = false): Promise<void> {
    if (!this.exists(id, runtime)) return;
    await this.run(runtime, force ? ['delete', '--force', id] : ['delete', id]).catch((e: Error) => {
      if (this.exists(id, runtime)) throw e;
    });
  }

  async state(id: string, runtime: RuntimeName): Promise<RuntimeState | undefined> {
    if (!this.exists(id, runtime)) return undefined;
    let out: string;
    try {
      out = await this.run(runtime, ['state', id]);
    } catch (e) {
      if (!this.exists(id, runtime)) return undefined;
      throw e;
    }
    const st = JSON.parse(out) as { status: RuntimeState['status']; pid?: number };
    return { status: st.status, pid: st.pid ?? 0 };
  }

  exitCode(id: string): number | undefined {
    return readExitFile(path.join(this.exitDir, id))?.code;
  }

  onExit(listener: (id: string, code: number) => void): void {
    this.listeners.push(listener);
    this.watch();
  }

  attachSocketPath(id: string): string {
    return path.join(this.sockLink(id), 'attach');
  }

  resize(id: string, rows: number, cols: number): void {
    resizeAt(this.sockLink(id), rows, cols);
  }

  /**
   * An exec session as podman runs one: its own conmon (`--exec`, detached like the container's) runs
   * `<runtime> exec --detach [--tty --console-socket]`, so a TTY exec gets a pty held by conmon, an attach socket,
   * and ctl/winsz fifos for resize, like the container itself. Handshake over three pipes: conmon reports that its
   * attach socket listens (attach pipe), we connect, then let it start the process (start pipe); the sync pipe
   * carries the pid, then the exit code. The session lives in ctr/<id>/exec-<sid>/, its socket link is s/<sid>.
   */
  async exec(req: ExecRequest): Promise<ExecHandle> {
    const sid = randomBytes(SOCK_NAME_LEN / 2).toString('hex');
    const dir = path.join(this.ctrDir, req.id, `exec-${sid}`);
    const link = this.sockLink(sid);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const spec = path.join(dir, 'process.json');
    fs.writeFileSync(spec, JSON.stringify(req.process), { mode: 0o600 });
    const args = [
      '--api-version', '1',
      '-c', req.id,
      '-u', sid,
      '-r', this.opts.runtimePaths[req.runtime],
      '-b', dir,
      '-p', path.join(dir, 'pid'),
      '-l', 'none', // exec output is not part of the container's log (as docker)
      '--socket-dir-path', this.sockDir,
      ...this.globalArgs(req.runtime).flatMap((a) => ['--runtime-arg', a]),
      '-e', '--exec-process-spec', spec, '--exec-attach',
      // conmon's forked child logs to the process's stderr: anything chattier than errors would end up in the output
      '--log-level', 'error',
    ];
    if (req.tty) args.push('-t');
    // A TTY exec survives its client detaching (docker keeps it running); a piped stdin ends with the client's.
    if (req.stdin) args.push('-i', ...(req.tty ? ['--leave-stdin-open'] : []));
    const child = spawn(this.conmonBin, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? DEFAULT_PATH, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' },
    });
    child.unref();
    const stdio = child.stdio as unknown as [null, null, null, Readable, Writable, Readable];
    const sync = new SyncPipe(stdio[3], child);
    const startPipe = stdio[4];
    const attachPipe = new SyncPipe(stdio[5], child);
    const cleanup = (): void => {
      sync.close();
      attachPipe.close();
      startPipe.destroy();
      fs.rmSync(link, { force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    };
    let attach: AttachSocket | undefined;
    try {
      startPipe.on('error', () => undefined); // conmon gone: the sync pipe reports it
      startPipe.write('0'); // conmon waits for this before forking
      await attachPipe.next();
      attach = req.attach ? await connectAttach(path.join(link, 'attach')) : undefined;
      startPipe.write('0'); // now the runtime may start the process
      const started = await sync.next();
      if (typeof started.data !== 'number' || started.data <= 0) {
        throw new RuntimeError(cleanMessage(started.message ?? '') || `conmon failed to exec in container ${req.id}`);
      }
      const exited = sync.next().then((m) => {
        if (typeof m.data !== 'number' || m.data < 0) throw new RuntimeError(m.message || 'exec session ended without an exit code');
        return m.data;
      }).finally(cleanup);
      return { pid: started.data, attach, exited, resize: (rows, cols) => resizeAt(link, rows, cols) };
    } catch (e) {
      attach?.destroy();
      cleanup();
      throw e;
    }
  }

  states(): { id: string; runtime: RuntimeName }[] {
    return (Object.keys(this.opts.runtimePaths) as RuntimeName[]).flatMap((runtime) => listDir(this.stateRoot(runtime)).map((id) => ({ id, runtime })));
  }

  /** What this run root holds, for `system check`: runtime states, per-container dirs, exit files, conmon processes. */
  inventory(): RuntimeInventory {
    return {
      states: this.states(),
      dirs: listDir(this.ctrDir),
      exits: listDir(this.exitDir),
      conmons: conmonProcesses(this.sockDir),
    };
  }

  /**
   * Undo what a start no record owns left behind (a daemon killed mid-start, an orphan): the process group of each
   * conmon of `id` (conmon, and a runtime `create` it may still be waiting for, which would otherwise make the
   * container after this returns), then the runtime's state and conmon's files. Waits for each process to be gone
   * first, so nothing writes an exit file after the cleanup. False when there was nothing (no files, no state).
   */
  async discard(id: string, runtime: RuntimeName): Promise<boolean> {
    // conmon is only ever started after its directory is made
    const traces = [path.join(this.ctrDir, id), path.join(this.exitDir, id), path.join(this.stateRoot(runtime), id)];
    if (!traces.some((p) => fs.existsSync(p))) return false;
    const conmons = conmonProcesses(this.sockDir).filter((c) => c.id === id);
    await Promise.all(conmons.map((c) => stopConmon(c.pid)));
    const st = await this.state(id, runtime).catch(() => undefined);
    if (st && st.pid > 0) {
      await this.kill(id, runtime, 'SIGKILL').catch(() => undefined);
      await processGone(st.pid);
    }
    await this.delete(id, runtime, true);
    this.cleanup(id);
    return true;
  }

  cleanup(id: string): void {
    fs.rmSync(path.join(this.exitDir, id), { force: true });
    fs.rmSync(this.sockLink(id), { force: true });
    fs.rmSync(path.join(this.ctrDir, id), { recursive: true, force: true });
    this.reported.delete(id);
  }

  /** Watch the exit dir (fs.watch) and rescan it periodically: inotify can drop events, a rescan cannot. */
  private watch(): void {
    if (this.watching) return;
    this.watching = true;
    try {
      this.watcher = fs.watch(this.exitDir, (_event, name) => {
        if (name) this.check(name.toString());
      });
      this.watcher.on('error', (e) => log.warn('exit dir watch failed', { dir: this.exitDir, e: String(e) }));
      this.watcher.unref();
    } catch (e) {
      log.warn('exit dir watch failed', { dir: this.exitDir, e: String(e) });
    }
    this.timer = setInterval(() => this.rescan(), RESCAN_MS);
    this.timer.unref();
    this.rescan();
  }

  private rescan(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.exitDir);
    } catch {
      return; // run root removed under us (tests, or shutdown): nothing to report
    }
    for (const name of names) this.check(name);
  }

  /** Stop watching the exit dir (daemon shutdown, tests). */
  close(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    this.watcher = undefined;
    this.timer = undefined;
    this.watching = false;
  }

  private check(id: string): void {
    // conmon writes <id>.XXXXXX and renames it to <id>: a temporary name is no container's exit
    if (!CONTAINER_ID.test(id)) return;
    const exit = readExitFile(path.join(this.exitDir, id));
    if (!exit || this.reported.get(id) === exit.identity) return;
    this.reported.set(id, exit.identity);
    for (const l of this.listeners) {
      try {
        l(id, exit.code);
      } catch (e) {
        log.error('exit listener failed', { id, e: String(e) });
      }
    }
  }
}

/** Writes a resize to the ctl fifo of a conmon session dir; no reader (conmon gone) or no fifo = nothing to resize. */
function resizeAt(sessionDir: string, rows: number, cols: number): void {
  let fd: number;
  try {
    fd = fs.openSync(path.join(sessionDir, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'ENOENT') return;
    throw e;
  }
  try {
    fs.writeSync(fd, `1 ${Math.trunc(rows)} ${Math.trunc(cols)}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

interface SyncMessage {
  data?: number;
  message?: string;
}

/** conmon's sync/attach pipes carry one JSON object a line; next() resolves with the next one, rejects at EOF. */
class SyncPipe {
  private buf = '';
  private readonly queue: SyncMessage[] = [];
  private waiter: { resolve: (m: SyncMessage) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(private readonly stream: Readable, child: ReturnType<typeof spawn>) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        try {
          this.push(JSON.parse(line) as SyncMessage);
        } catch {
          this.fail(new RuntimeError(`conmon: unexpected sync message: ${line}`));
        }
      }
    });
    stream.on('error', () => undefined);
    stream.on('close', () => this.fail(new RuntimeError('conmon exited without reporting')));
    child.on('error', (e) => this.fail(new RuntimeError(`cannot run conmon: ${e.message}`)));
  }

  next(): Promise<SyncMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  close(): void {
    this.stream.destroy();
  }

  private push(m: SyncMessage): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w.resolve(m);
    else this.queue.push(m);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }
}

/** The exit code in a conmon exit file, with an identity (inode + mtime) telling one exit from the next. */
function readExitFile(file: string): { code: number; identity: string } | undefined {
  try {
    const st = fs.statSync(file);
    const text = fs.readFileSync(file, 'utf8').trim();
    // conmon may be caught mid-write: an empty file is "not yet".
    if (!/^-?\d+$/.test(text)) return undefined;
    return { code: Number(text), identity: `${st.ino}:${st.mtimeMs}` };
  } catch {
    return undefined;
  }
}

/** Read conmon's sync pipe until one JSON object is complete (or EOF). */
function readSyncMessage(stream: NodeJS.ReadableStream, child: ReturnType<typeof spawn>): Promise<{ data?: number; message?: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (fn: () => void): void => {
      if (done) return;
      done = true;
      stream.removeAllListeners('data');
      (stream as unknown as { destroy(): void }).destroy();
      fn();
    };
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      try {
        const msg = JSON.parse(buf) as { data?: number; message?: string };
        finish(() => resolve(msg));
      } catch {
        /* incomplete: wait for more */
      }
    });
    stream.on('end', () => finish(() => reject(new RuntimeError(buf.trim() ? `conmon: unexpected sync message: ${buf.trim()}` : 'conmon exited without reporting the container pid'))));
    child.on('error', (e) => finish(() => reject(new RuntimeError(`cannot run conmon: ${e.message}`))));
  });
}

/** Runtime messages: trim, and take runc's logrus `msg="..."` text when it logs that way. */
function cleanMessage(text: string): string {
  const t = text.trim();
  const m = /level=error msg="((?:[^"\\]|\\.)*)"/.exec(t);
  return m ? m[1].replace(/\\"/g, '"') : t;
}
