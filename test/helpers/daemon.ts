/**
 * A private berthd for one test file: its own data root, exec root and socket, never the user's. stop() removes every
 * container it made, kills leftover conmon processes and deletes its directories, also after failures.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

export const REPO = path.resolve(__dirname, '../../..');
export const BERTHD = path.join(REPO, 'bin/berthd');
/** The berth CLI as users run it (the bin/berth launcher). */
export const BERTH = path.join(REPO, 'bin/berth');
/**
 * busybox's root file system as a tar, made once from Debian's busybox-static and shared by every test. With `arch`
 * (a Debian architecture, e.g. arm64) from that architecture's package (scripts/busybox-rootfs.sh).
 */
export function busyboxTar(arch?: string): string {
  const file = `/var/tmp/berth-test-busybox${arch ? `-${arch}` : ''}.tar`;
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    const r = spawnSync(path.join(REPO, 'scripts/busybox-rootfs.sh'), [tmp, ...(arch ? [arch] : [])]);
    if (r.status !== 0) throw new Error(`busybox-rootfs.sh failed: ${r.stderr}`);
    fs.renameSync(tmp, file);
  }
  return file;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export type Launcher = (d: TestDaemon, berthdArgs: string[]) => { cmd: string; args: string[]; env?: NodeJS.ProcessEnv };

export class TestDaemon {
  private proc?: ChildProcess;
  readonly dataRoot: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly logFile: string;
  /** Own bridge, subnet and name prefix, so test daemons never meet each other's (or the user's) networks. */
  readonly bridge: string;
  readonly subnet: string;

  /**
   * `extraArgs`: more berthd flags (e.g. `--userns-remap default`). `launch` wraps the command (systemd-socket-activate
   * listening on `socket` for socket activation); its process must exec berthd.
   */
  constructor(readonly name: string, private readonly extraArgs: string[] = [], private readonly launch?: Launcher) {
    // a /24 no other daemon (another test file running in parallel) routes now
    const routes = spawnSync('ip', ['-o', 'route']).stdout?.toString() ?? '';
    let n = Math.floor(Math.random() * 250);
    while (routes.includes(`10.250.${n}.0/24`)) n = (n + 1) % 250;
    this.bridge = `bt${n}x${process.pid % 1000}`;
    this.subnet = `10.250.${n}.0/24`;
    const tag = `${name}-${process.pid}`;
    this.dataRoot = fs.mkdtempSync(`/var/tmp/berth-test-${tag}-`);
    // conmon's attach socket path must fit in sun_path: keep the exec root short.
    this.execRoot = fs.mkdtempSync(`/run/bt-`);
    this.socket = path.join(this.execRoot, 'berth.sock');
    this.logFile = path.join(this.dataRoot, 'berthd.log');
  }

  /** The running berthd's pid (bin/berthd execs all the way, so it is the daemon's own). */
  get pid(): number | undefined {
    return this.proc?.exitCode === null && this.proc.signalCode === null ? this.proc.pid : undefined;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: `unix://${this.socket}` };
  }

  async start(): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    const args = ['--data-root', this.dataRoot, '--exec-root', this.execRoot, '--log-level', 'debug'];
    args.push('--bridge', this.bridge, '--bip', this.subnet, '--bridge-prefix', this.bridge);
    args.push('--registries-loopback-only'); // tests never reach a registry off this machine
    args.push(...this.extraArgs);
    const how = this.launch ? this.launch(this, args) : { cmd: BERTHD, args };
    this.proc = spawn(how.cmd, how.args, { stdio: ['ignore', log, log], env: how.env ?? process.env });
    fs.closeSync(log);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`berthd exited early:\n${this.log()}`);
      if (await ping(this.socket)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`berthd did not answer within 15 s:\n${this.log()}`);
  }

  log(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Resolves with the daemon's exit code when it exits by itself. */
  exited(): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p?.exitCode ?? null);
    return new Promise((r) => p.once('exit', (code) => r(code)));
  }

  /** kill -9 the daemon (containers keep running under conmon). */
  async crash(): Promise<void> {
    await this.kill('SIGKILL');
  }

  private async kill(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const done = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    // a daemon that does not stop is a failure to report, not a reason to hang the suite
    const stuck = setTimeout(() => {
      process.stderr.write(`berthd ${p.pid} did not exit on ${sig} within 30 s; killing it. Its log ends:\n${this.log().slice(-4000)}\n`);
      p.kill('SIGKILL');
    }, 30_000);
    await done;
    clearTimeout(stuck);
  }

  /** The berth CLI against this daemon. */
  berth(args: string[], opts: { input?: string | Buffer; timeout?: number } = {}): RunResult {
    return result(spawnSync(BERTH, [...args], { env: this.env, input: opts.input, timeout: opts.timeout ?? 60_000 }));
  }

  /** The real docker CLI against this daemon. */
  docker(args: string[], opts: { input?: string | Buffer; timeout?: number } = {}): RunResult {
    return result(spawnSync('docker', args, { env: this.env, input: opts.input, timeout: opts.timeout ?? 60_000 }));
  }

  /** busybox:latest made from Debian's busybox-static, imported through the API. */
  importBusybox(): void {
    const r = this.berth(['import', '--change', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
    if (r.status !== 0) throw new Error(`import busybox failed: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      const ids = this.berth(['ps', '-aq']).stdout.split('\n').filter(Boolean);
      if (ids.length) this.berth(['rm', '-f', ...ids]);
      await this.kill('SIGTERM');
    }
    // A daemon that could not release its networks at exit (it was killed, or a container record still looked alive)
    // leaves its bridge: one more start reconciles and releases it, the way a user's next start would.
    if (fs.existsSync(`/sys/class/net/${this.bridge}`) && this.proc?.signalCode !== 'SIGKILL') {
      await this.start().catch(() => undefined);
      await this.kill('SIGTERM');
    }
    // Whatever survived (a crashed daemon's containers): conmon processes of this exec root, then runtime state.
    spawnSync('pkill', ['-9', '-f', `conmon.*${this.execRoot}`]);
    for (const rt of ['crun', 'runc']) {
      const root = path.join(this.execRoot, 'state', rt);
      if (!fs.existsSync(root)) continue;
      for (const id of fs.readdirSync(root)) spawnSync(rt, ['--root', root, 'delete', '-f', id]);
    }
    // Network leftovers of a failed test (a graceful stop with nothing running removes them itself).
    const netns = spawnSync('ip', ['netns', 'list']).stdout?.toString() ?? '';
    for (const ns of netns.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`${this.bridge}-`))) spawnSync('ip', ['netns', 'del', ns]);
    // and the keeper veth of a default bridge that went away without its daemon releasing it
    if (!fs.existsSync(`/sys/class/net/${this.bridge}`)) spawnSync('ip', ['link', 'del', `${this.bridge}k`]);
    unmountUnder(this.dataRoot);
    fs.rmSync(this.dataRoot, { recursive: true, force: true });
    fs.rmSync(this.execRoot, { recursive: true, force: true });
  }
}

function unmountUnder(dir: string): void {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m?.startsWith(dir));
  for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
}

function result(r: SpawnSyncReturns<Buffer>): RunResult {
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

export function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
