/**
 * systemd integration: listeners passed by socket activation (sd_listen_fds: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES,
 * fds from 3) and readiness notification (sd_notify to $NOTIFY_SOCKET).
 */
import { log } from '../common/log';
import { sdNotify, setCloexec } from '../native';

export interface ActivatedFd {
  fd: number;
  /** From LISTEN_FDNAMES (the FileDescriptorName= of the socket unit, default the unit's name). */
  name: string;
}

const FIRST_FD = 3;

/** The listeners systemd passed to this process (pure: none when LISTEN_PID names another process). */
export function activatedFds(env: NodeJS.ProcessEnv, pid: number): ActivatedFd[] {
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return [];
  const n = Number(env.LISTEN_FDS);
  if (!Number.isInteger(n) || n <= 0) return [];
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  return Array.from({ length: n }, (_, i) => ({ fd: FIRST_FD + i, name: names[i] || 'unknown' }));
}

/**
 * The fds an `fd://` host selects, as dockerd: `fd://` takes all, `fd://N` the fd numbered N, `fd://NAME` those named
 * NAME. Throws a message for the user when none match.
 */
export function selectFds(host: string, fds: ActivatedFd[]): ActivatedFd[] {
  const want = host.slice('fd://'.length);
  if (!fds.length) throw new Error(`no sockets found via socket activation (${host}): make sure the service was started by systemd`);
  if (want === '' || want === '*') return fds;
  const picked = /^\d+$/.test(want) ? fds.filter((f) => f.fd === Number(want)) : fds.filter((f) => f.name === want);
  if (!picked.length) {
    throw new Error(`no socket activated as ${JSON.stringify(want)} (${host}); systemd passed ${fds.map((f) => `${f.fd} (${f.name})`).join(', ')}`);
  }
  return picked;
}

let notifySocket: string | undefined;

/**
 * Takes what systemd passed: the activated fds (made close-on-exec) and the notify socket; the variables are cleared
 * so that no child (conmon, hooks, containers) sees them.
 */
export function takeSystemdEnv(): ActivatedFd[] {
  const fds = activatedFds(process.env, process.pid);
  for (const f of fds) setCloexec(f.fd);
  notifySocket = process.env.NOTIFY_SOCKET || undefined;
  for (const v of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES', 'NOTIFY_SOCKET']) delete process.env[v];
  return fds;
}

/** sd_notify: READY=1, STOPPING=1, STATUS=...; nothing when not run by systemd with Type=notify. */
export function notify(state: string): void {
  if (!notifySocket) return;
  try {
    sdNotify(notifySocket, state);
  } catch (e) {
    log.warn('could not notify systemd', { socket: notifySocket, error: (e as Error).message });
  }
}
