/**
 * berthd started by a non-root user: re-run this same program inside a user namespace mapped from the user's
 * /etc/subuid and /etc/subgid ranges (`unshare --map-root-user --map-auto`, which runs Debian's setuid
 * newuidmap/newgidmap), with a mount namespace of its own (a private /run for `ip netns`, iptables and netavark;
 * the cgroup2 mount of hybrid hosts hidden from crun, as for rootful berthd) and a network namespace of its own that
 * slirp4netns connects to the host's network. This process stays as the wrapper: it owns slirp4netns, relays signals
 * and exits with the daemon's status. Nothing is created before every requirement is known to be there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Duplex, Readable } from 'node:stream';
import { ROOTLESS_ENV, ROOTLESS_MTU, type RootlessPaths } from '../common/rootless';
import { describeMissing, rootlessMissing } from './check';

/** Where the daemon inside finds slirp4netns's API socket and the host's first unprivileged port. */
export const SLIRP_API_ENV = 'BERTH_SLIRP_API';
export const PORT_START_ENV = 'BERTH_UNPRIVILEGED_PORT_START';
/** slirp4netns's fixed addresses: the namespace side of the tap device. */
export const SLIRP_GUEST_ADDR = '10.0.2.100';

// Runs as root of the new user namespace, in the new mount and network namespaces; "$@" is the daemon's command.
// /run becomes a private tmpfs with the user's XDG_RUNTIME_DIR moved back into it (staged under the data root).
// Fd 3 talks to the wrapper: "inside" once in the namespaces, then the daemon starts only on "go" (slirp4netns is up),
// so the first container already has its network and port forwards.
const SETUP = `set -e
stage="$BERTH_DATA_ROOT/.xdg-stage"; mkdir -p "$stage"
mount --rbind "$XDG_RUNTIME_DIR" "$stage"
mount -t tmpfs -o mode=755,nosuid,nodev berth-run /run
mkdir -p "$XDG_RUNTIME_DIR"; mount --move "$stage" "$XDG_RUNTIME_DIR"; rmdir "$stage"
if [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then mount -t tmpfs -o ro berth-cg /sys/fs/cgroup/unified; fi
ip link set lo up
echo inside >&3; read -r go <&3; [ "$go" = go ]
exec 3>&-; exec "$@"`;

/** Never returns: the process lives on as the wrapper of the daemon inside the namespaces. */
export function enterRootless(paths: Pick<RootlessPaths, 'dataRoot' | 'execRoot'>): void {
  const missing = rootlessMissing();
  if (missing.length) {
    process.stderr.write(`berthd: ${describeMissing(missing)}\n`);
    process.exit(1);
  }
  fs.mkdirSync(paths.dataRoot, { recursive: true, mode: 0o700 });
  fs.mkdirSync(paths.execRoot, { recursive: true, mode: 0o700 });
  // one per wrapper: a second berthd of the same user (it exits on the data-root lock) must not take the socket
  // path of the running one's slirp4netns
  const slirpApi = `${paths.execRoot}/slirp4netns-${process.pid}.sock`;
  fs.rmSync(slirpApi, { force: true });
  const child = spawn('unshare', ['--map-root-user', '--map-auto', '--mount', '--net', '--propagation', 'private', 'sh', '-c', SETUP, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: {
      ...process.env,
      [ROOTLESS_ENV]: String(process.pid),
      [SLIRP_API_ENV]: slirpApi,
      [PORT_START_ENV]: fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim(),
      BERTH_DATA_ROOT: paths.dataRoot,
    },
  });
  let slirp: ChildProcess | undefined;
  const relay = (sig: NodeJS.Signals): void => void child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) process.on(sig, relay);
  child.on('error', (e) => {
    process.stderr.write(`berthd: cannot enter the user namespace: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    slirp?.kill('SIGTERM');
    fs.rmSync(slirpApi, { force: true });
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
  const control = child.stdio[3] as Duplex;
  control.once('data', () => {
    slirp = startSlirp(child.pid!, slirpApi);
    void slirpReady(slirp, slirpApi).then(
      () => control.end('go\n'),
      (e: Error) => {
        process.stderr.write(`berthd: slirp4netns did not start: ${e.message}\n`);
        child.kill('SIGTERM');
      },
    );
  });
}

/**
 * slirp4netns (chosen over pasta: it adds and removes port forwards at run time through its API socket, which
 * `-p` of a container started later needs; see docs/rootless.md) connects the namespace to the host's network as
 * tap0, 10.0.2.100/24. It does not reach the host's loopback (--disable-host-loopback, as rootless Docker), runs
 * sandboxed and seccomp-confined, and exits when this wrapper's end of fd 3 closes.
 */
function startSlirp(pid: number, api: string): ChildProcess {
  const p = spawn('slirp4netns', ['--configure', `--mtu=${ROOTLESS_MTU}`, '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--exit-fd=3', '--ready-fd=4', `--api-socket=${api}`, String(pid), 'tap0'], {
    stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe'],
  });
  p.on('error', (e) => process.stderr.write(`berthd: slirp4netns: ${e.message}\n`));
  return p;
}

/** slirp4netns writes "1" to its ready fd once tap0 is configured; its API socket is then listening. */
function slirpReady(p: ChildProcess, api: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready signal within 30 s')), 30_000);
    const done = (e?: Error): void => {
      clearTimeout(timer);
      p.removeListener('exit', onExit);
      if (e) reject(e);
      else resolve();
    };
    const onExit = (code: number | null, signal: string | null): void => done(new Error(`exited (${signal ?? `status ${code}`})`));
    p.once('exit', onExit);
    (p.stdio[4] as Readable).once('data', () => done(fs.existsSync(api) ? undefined : new Error(`no API socket at ${api}`)));
  });
}
