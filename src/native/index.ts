/**
 * Typed wrappers over native/berth.c, the addon for what Node 20 lacks: mknod, xattrs (l* variants: a final
 * symlink is never followed) and SOCK_SEQPACKET unix sockets. Errors are Node-style: Error with .code ('ENOENT'),
 * .errno, .syscall and .path. The addon is loaded on first use, so importing this module never fails.
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
