/**
 * A throw-away unprivileged user for rootless tests: home in a temp dir, its own /run/user/<uid>, subordinate id
 * ranges (optional) added with usermod, and its berthd. remove() undoes all of it, whatever state a test left.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxTar, BERTH, BERTHD, ping, type RunResult } from './daemon';


export class RootlessUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly runtimeDir: string;
  private daemon?: ChildProcess;

  /** `subids`: the first id of a 65536-id range for /etc/subuid and /etc/subgid, or none. */
  constructor(tag: string, private readonly subids: number | undefined, private readonly base = fs.mkdtempSync(path.join(os.tmpdir(), `brl-${tag}-`))) {
    this.name = `brl${tag}${process.pid % 100000}`.slice(0, 31);
    fs.chmodSync(this.base, 0o755);
    this.home = path.join(this.base, 'home');
    // no automatic ranges: the test decides what the user has
    sh('useradd', ['-M', '-d', this.home, '-s', '/bin/sh', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', this.name]);
    this.uid = Number(sh('id', ['-u', this.name]).trim());
    this.gid = Number(sh('id', ['-g', this.name]).trim());
    fs.mkdirSync(this.home, { mode: 0o700 });
    fs.chownSync(this.home, this.uid, this.gid);
    this.runtimeDir = `/run/user/${this.uid}`;
    fs.mkdirSync(this.runtimeDir, { recursive: true, mode: 0o700 });
    fs.chownSync(this.runtimeDir, this.uid, this.gid);
    if (subids !== undefined) {
      const range = `${subids}-${subids + 65535}`;
      sh('usermod', ['--add-subuids', range, '--add-subgids', range, this.name]);
    }
  }

  get socket(): string {
    return path.join(this.runtimeDir, 'berth/berth.sock');
  }

  env(extra: Record<string, string> = {}): string[] {
    const vars = { HOME: this.home, USER: this.name, XDG_RUNTIME_DIR: this.runtimeDir, PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', ...extra };
    return Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  }

  /** Run a command as this user, with a clean login-like environment. */
  run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeout?: number } = {}): RunResult {
    const r = spawnSync('runuser', ['-u', this.name, '--', 'env', '-i', ...this.env(opts.env), cmd, ...args], { cwd: this.home, input: opts.input, timeout: opts.timeout ?? 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
  }

  /** The berth CLI with no DOCKER_HOST: it must find the user's own daemon. */
  berth(args: string[], opts: { input?: string } = {}): RunResult {
    return this.run(BERTH, args, opts);
  }

  docker(args: string[]): RunResult {
    return this.run('docker', args, { env: { DOCKER_HOST: `unix://${this.socket}` } });
  }

  get logFile(): string {
    return path.join(this.base, 'berthd.log');
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  /**
   * berthd as this user (runuser's pid is this.daemon.pid, the wrapper berthd its child); waits for the socket to
   * answer. `argv`: another command line that starts it (a unit's ExecStart).
   */
  async startDaemon(opts: { argv?: string[]; env?: Record<string, string> } = {}): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    const argv = opts.argv ?? [BERTHD, '--log-level', 'debug', '--registries-loopback-only'];
    this.daemon = spawn('runuser', ['-u', this.name, '--', 'env', '-i', ...this.env(opts.env), ...argv], { stdio: ['ignore', log, log], cwd: this.home });
    fs.closeSync(log);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.daemon.exitCode !== null) throw new Error(`rootless berthd exited early:\n${this.log()}`);
      if (await ping(this.socket)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`rootless berthd did not answer within 20 s:\n${this.log()}`);
  }

  importBusybox(): void {
    const r = this.berth(['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
    if (r.status !== 0) throw new Error(`import busybox failed: ${r.stderr}`);
  }

  /** SIGTERM to the wrapper berthd (as systemd stops a service); resolves with runuser's exit code. */
  async stopDaemon(): Promise<number | null> {
    const daemon = this.daemon;
    if (!daemon || daemon.exitCode !== null) return daemon?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => daemon.once('exit', (code) => r(code)));
    spawnSync('pkill', ['-TERM', '-P', String(daemon.pid)]);
    return exited;
  }

  /** Stop the daemon, end every process of the user (all started by this test), drop the user and all it had. */
  async remove(): Promise<void> {
    if (this.daemon && this.daemon.exitCode === null) {
      const ids = this.berth(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length) this.berth(['rm', '-f', ...ids]);
      const exited = new Promise((r) => this.daemon!.once('exit', r));
      spawnSync('pkill', ['-TERM', '-P', String(this.daemon.pid)]); // runuser's child: the wrapper berthd
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
    }
    for (let i = 0; i < 20; i++) {
      const pids = spawnSync('pgrep', ['-u', String(this.uid)]).stdout.toString().split('\n').filter(Boolean).map(Number);
      if (!pids.length) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (this.subids !== undefined) {
      const range = `${this.subids}-${this.subids + 65535}`;
      spawnSync('usermod', ['--del-subuids', range, '--del-subgids', range, this.name]);
    }
    spawnSync('userdel', [this.name]);
    fs.rmSync(this.runtimeDir, { recursive: true, force: true });
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr?.toString()}`);
  return r.stdout.toString();
}

/** A free 65536-id range above what /etc/subuid and /etc/subgid hold (other tests may add theirs meanwhile). */
export function freeSubidBase(offset: number): number {
  let top = 1_000_000;
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    for (const line of (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '').split('\n')) {
      const [, start, count] = line.split(':').map(Number);
      if (start + count > top) top = start + count;
    }
  }
  return top + 65536 * (offset + (process.pid % 64));
}
