/**
 * Typed wrappers over native/berth.c, native/openat2.c and native/service.c, the addon for what Node 20 lacks: mknod,
 * xattrs (l* variants: a final symlink is never followed), flock, SOCK_SEQPACKET unix sockets, openat2 with the *at
 * calls that keep an operation below a directory fd, and sd_notify/FD_CLOEXEC for systemd. Errors are Node-style:
 * Error with .code ('ENOENT'), .errno, .syscall and .path. The addon is loaded on first use, so importing this module
 * never fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Opaque native socket handle (a napi external). */
export interface SocketHandle {
  readonly __brand: 'berth-socket';
}

/** Events from a polled socket, first argument of the `onEvent` callback given to {@link socketOpen}. */
export enum SocketEvent {
  Data = 1,
  Eof = 2,
  Writable = 3,
  Error = 4,
}

interface Binding {
  mknod(path: string, mode: number, major: number, minor: number): void;
  mountOverlay(target: string, options: string): void;
  umount(target: string, detach: boolean): void;
  flock(fd: number, op: number): void;
  setxattr(path: string, name: string, value: Buffer): void;
  getxattr(path: string, name: string): Buffer | undefined;
  listxattr(path: string): string[];
  seqpacketConnect(path: string): number;
  seqpacketListen(path: string): number;
  seqpacketAccept(listenFd: number): number;
  socketOpen(fd: number, onEvent: (event: SocketEvent, arg: Buffer | Error | undefined) => void): SocketHandle;
  socketPoll(handle: SocketHandle, readable: boolean, writable: boolean): void;
  socketSend(handle: SocketHandle, packet: Buffer): number;
  socketShutdown(handle: SocketHandle): void;
  socketClose(handle: SocketHandle): void;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  mkdirat(dirfd: number, name: string, mode: number): void;
  symlinkat(target: string, dirfd: number, name: string): void;
  linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void;
  unlinkat(dirfd: number, name: string, isDir: boolean): void;
  fchownat(dirfd: number, name: string, uid: number, gid: number): void;
  fchmodat(dirfd: number, name: string, mode: number): void;
  utimensat(dirfd: number, name: string, atime: number, mtime: number): void;
  sdNotify(socketPath: string, message: string): void;
  setCloexec(fd: number): void;
}

/** dist/src/native/index.js -> native/build/Release/berth_native.node */
export const ADDON_PATH = path.resolve(__dirname, '../../../native/build/Release/berth_native.node');

let binding: Binding | undefined;

function addon(): Binding {
  if (binding) return binding;
  if (!fs.existsSync(ADDON_PATH)) {
    throw new Error(
      `berth native addon not built: ${ADDON_PATH} is missing. ` +
        'Run the setup script (or `npm run build:native`, which needs make, a C compiler and Node headers in /usr/include/node).',
    );
  }
  binding = require(ADDON_PATH) as Binding;
  return binding;
}

function checkString(what: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${what} must be a non-empty string`);
  if (value.includes('\0')) throw new TypeError(`${what} must not contain NUL bytes: ${JSON.stringify(value)}`);
  return value;
}

function checkUint(what: string, value: unknown, max = 0xffffffff): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max) {
    throw new RangeError(`${what} must be an integer from 0 to ${max}, got ${String(value)}`);
  }
  return value as number;
}

/** mknod(2). `mode` includes the file type, e.g. `fs.constants.S_IFCHR` with 0/0 for an overlay whiteout. */
export function mknod(file: string, mode: number, major: number, minor: number): void {
  addon().mknod(checkString('path', file), checkUint('mode', mode), checkUint('major', major), checkUint('minor', minor));
}

/** mount(2) of an overlay filesystem; `options` is the data string (lowerdir=...,upperdir=...,workdir=...). */
export function mountOverlay(target: string, options: string): void {
  addon().mountOverlay(checkString('target', target), checkString('options', options));
}

/** umount2(2); `detach` = MNT_DETACH (lazy). */
export function umount(target: string, detach = false): void {
  addon().umount(checkString('target', target), detach);
}

/** flock(2) operations (sys/file.h). */
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/**
 * flock(2) on an open fd, never blocking (LOCK_NB is added: a wait would stall the event loop). Throws EWOULDBLOCK
 * (code 'EAGAIN') when another open file description holds a conflicting lock.
 */
export function flock(fd: number, op: number): void {
  if (![LOCK_SH, LOCK_EX, LOCK_UN].includes(op & ~LOCK_NB)) throw new RangeError(`flock operation must be LOCK_SH, LOCK_EX or LOCK_UN, got ${op}`);
  addon().flock(checkUint('fd', fd, 0x7fffffff), op | LOCK_NB);
}

/** lsetxattr(2), e.g. `setxattr(dir, 'trusted.overlay.opaque', 'y')`. Strings are written as UTF-8. */
export function setxattr(file: string, name: string, value: Buffer | string): void {
  const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (!Buffer.isBuffer(data)) throw new TypeError('xattr value must be a Buffer or a string');
  addon().setxattr(checkString('path', file), checkString('xattr name', name), data);
}

/** lgetxattr(2); undefined when the attribute is not set (ENODATA). */
export function getxattr(file: string, name: string): Buffer | undefined {
  return addon().getxattr(checkString('path', file), checkString('xattr name', name));
}

/** llistxattr(2): names of all attributes this process may see (trusted.* only as root). */
export function listxattr(file: string): string[] {
  return addon().listxattr(checkString('path', file));
}

/** sun_path holds 108 bytes including the terminating NUL. */
function checkSocketPath(socketPath: string): string {
  const bytes = Buffer.byteLength(checkString('socket path', socketPath));
  if (bytes > 107) throw new RangeError(`unix socket path too long (${bytes} bytes, max 107): ${socketPath}`);
  return socketPath;
}

/** Connects a non-blocking SOCK_SEQPACKET socket; returns its fd. */
export function seqpacketConnect(socketPath: string): number {
  return addon().seqpacketConnect(checkSocketPath(socketPath));
}

/** Binds and listens (backlog 16) on a non-blocking SOCK_SEQPACKET socket; returns its fd (close with fs.closeSync). */
export function seqpacketListen(socketPath: string): number {
  return addon().seqpacketListen(checkSocketPath(socketPath));
}

/** accept4(2) without waiting: throws EAGAIN when no connection is pending. Returns a non-blocking fd. */
export function seqpacketAccept(listenFd: number): number {
  return addon().seqpacketAccept(checkUint('fd', listenFd, 0x7fffffff));
}

/**
 * Takes ownership of a socket fd (closed by {@link socketClose}, or here if polling cannot start) and polls it on the
 * event loop. Nothing is polled until {@link socketPoll} asks for it; each Data event carries one whole packet.
 */
export function socketOpen(
  fd: number,
  onEvent: (event: SocketEvent, arg: Buffer | Error | undefined) => void,
): SocketHandle {
  checkUint('fd', fd, 0x7fffffff);
  try {
    return addon().socketOpen(fd, onEvent);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** What to poll for; Writable fires once per request, Data until paused, Eof/Error once (then reads stop). */
export function socketPoll(handle: SocketHandle, readable: boolean, writable: boolean): void {
  addon().socketPoll(handle, readable, writable);
}

/** Sends one packet without blocking: its length, or -1 when the send buffer is full (poll for writable). */
export function socketSend(handle: SocketHandle, packet: Buffer): number {
  return addon().socketSend(handle, packet);
}

/** shutdown(SHUT_WR): the peer reads EOF, packets keep arriving. */
export function socketShutdown(handle: SocketHandle): void {
  addon().socketShutdown(handle);
}

/** Stops polling and closes the fd; idempotent. */
export function socketClose(handle: SocketHandle): void {
  addon().socketClose(handle);
}

// ---- *at calls (native/openat2.c) ----

/** openat2(2) `resolve` bits (linux/openat2.h). */
export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;
/** O_PATH, which fs.constants lacks: a handle for *at calls and fstat, no I/O. */
export const O_PATH = 0o10000000;

const checkFd = (fd: number): number => {
  if (!Number.isInteger(fd) || fd < -100 || fd > 0x7fffffff) throw new RangeError(`bad fd ${String(fd)}`);
  return fd;
};

/** openat2(2), always O_CLOEXEC; retried while the kernel answers EAGAIN (a concurrent rename). Returns the fd. */
export function openat2(dirfd: number, file: string, flags: number, mode: number, resolve: number): number {
  return addon().openat2(checkFd(dirfd), checkString('path', file), flags, checkUint('mode', mode), checkUint('resolve', resolve));
}

/** mkdirat(2): `name` in the directory `dirfd`; a symlink there is never followed (EEXIST). */
export function mkdirat(dirfd: number, name: string, mode: number): void {
  addon().mkdirat(checkFd(dirfd), checkString('name', name), checkUint('mode', mode));
}

export function symlinkat(target: string, dirfd: number, name: string): void {
  addon().symlinkat(checkString('symlink target', target), checkFd(dirfd), checkString('name', name));
}

/** linkat(2) without AT_SYMLINK_FOLLOW: a symlink at the old name is linked itself. */
export function linkat(olddirfd: number, oldname: string, newdirfd: number, newname: string): void {
  addon().linkat(checkFd(olddirfd), checkString('old name', oldname), checkFd(newdirfd), checkString('new name', newname));
}

/** unlinkat(2); `isDir` = AT_REMOVEDIR (an empty directory). */
export function unlinkat(dirfd: number, name: string, isDir = false): void {
  addon().unlinkat(checkFd(dirfd), checkString('name', name), isDir);
}

/** fchownat(2) with AT_SYMLINK_NOFOLLOW: a symlink gets the owner itself. */
export function fchownat(dirfd: number, name: string, uid: number, gid: number): void {
  addon().fchownat(checkFd(dirfd), checkString('name', name), checkUint('uid', uid), checkUint('gid', gid));
}

/** fchmodat(2) with AT_SYMLINK_NOFOLLOW (EOPNOTSUPP on a symlink). */
export function fchmodat(dirfd: number, name: string, mode: number): void {
  addon().fchmodat(checkFd(dirfd), checkString('name', name), checkUint('mode', mode, 0o7777));
}

/** utimensat(2) with AT_SYMLINK_NOFOLLOW; times in seconds (fractions kept to the nanosecond). */
export function utimensat(dirfd: number, name: string, atime: number, mtime: number): void {
  addon().utimensat(checkFd(dirfd), checkString('name', name), atime, mtime);
}

/** Sends one datagram to a systemd notify socket (`$NOTIFY_SOCKET`; a leading '@' is the abstract namespace). */
export function sdNotify(socketPath: string, message: string): void {
  addon().sdNotify(checkString('socket path', socketPath), checkString('message', message));
}

/** Sets FD_CLOEXEC on an inherited fd (systemd's listeners), so child processes do not inherit it. */
export function setCloexec(fd: number): void {
  addon().setCloexec(checkUint('fd', fd, 0x7fffffff));
}
