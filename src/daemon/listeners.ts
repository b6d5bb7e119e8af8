/**
 * Where berthd listens (`-H`): unix sockets (owned by root and the socket group), sockets passed by systemd (`fd://`),
 * and TCP only over TLS (mutual with --tlsverify, as dockerd) or, with an
 * explicit `--tls=false`, in plain HTTP on a loopback address. The API gives root on this host: plain TCP on a
 * reachable address would give it to the network, so that is refused rather than warned about.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { ListenerOptions } from '../api/server';
import { parseGroup } from '../spec/user';
import type { TlsConfig } from './config';

export type ListenPlan =
  | { kind: 'unix'; path: string }
  /** Socket activation; TLS when --tls/--tlsverify is given, as dockerd. */
  | { kind: 'fd'; host: string; tls: boolean; verify: boolean }
  | { kind: 'tcp'; host: string; port: number; tls: boolean; verify: boolean; allowedHosts?: string[] };

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

/** The listener for one `-H` value (pure); throws a message for the user when it must not be served. */
export function planListener(h: string, tls: TlsConfig): ListenPlan {
  if (h.startsWith('unix://')) {
    const p = h.slice('unix://'.length);
    if (!p.startsWith('/')) throw new Error(`invalid host ${h}: the socket path must be absolute`);
    return { kind: 'unix', path: p };
  }
  if (h.startsWith('fd://')) return { kind: 'fd', host: h, tls: tls.enabled === true, verify: tls.verify };
  if (!h.startsWith('tcp://')) throw new Error(`unsupported host ${h}: use unix://, tcp:// or fd://`);
  let u: URL;
  try {
    u = new URL(h.replace(/^tcp:/, 'http:'));
  } catch {
    throw new Error(`invalid host ${h}`);
  }
  if (u.pathname !== '/' && u.pathname !== '') throw new Error(`invalid host ${h}: a path is not allowed`);
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'; // dockerd's default TCP address
  const port = Number(u.port || (tls.enabled ? 2376 : 2375));
  if (tls.enabled) return { kind: 'tcp', host, port, tls: true, verify: tls.verify };
  const why = 'the Engine API gives root on this host to anyone who can reach it';
  if (tls.enabled === undefined) {
    throw new Error(`refusing to listen on ${h} without TLS (${why}): use --tlsverify with --tlscacert, --tlscert and --tlskey, or --tls=false on a loopback address`);
  }
  if (!isLoopback(host)) {
    throw new Error(`refusing to listen on ${h} without TLS: it is not a loopback address and ${why}; use --tlsverify with --tlscacert, --tlscert and --tlskey`);
  }
  // A web page whose name was re-bound to 127.0.0.1 sends its own name as Host: only loopback names are served.
  return { kind: 'tcp', host, port, tls: false, verify: false, allowedHosts: [...new Set([...LOOPBACK_NAMES, host.toLowerCase()])] };
}

/** The API server options of a plan: the PEM files are read now, so a missing one stops the daemon at start. */
export function listenerOptions(plan: ListenPlan, tls: TlsConfig): ListenerOptions {
  if (plan.kind === 'unix' || !plan.tls) return plan.kind === 'tcp' ? { allowedHosts: plan.allowedHosts } : {};
  // fd:// (socket activation) with TLS, or tcp:// with TLS
  const read = (what: string, file: string): Buffer => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`could not read TLS ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  return {
    tls: {
      cert: read('certificate', tls.cert),
      key: read('key', tls.key),
      ...(plan.verify ? { ca: read('CA certificate', tls.caCert), requestCert: true, rejectUnauthorized: true } : {}),
      minVersion: 'TLSv1.2',
    },
  };
}

/** The default socket group: dockerd's is `docker` when that group exists. */
export const DEFAULT_GROUP = 'berth';

/**
 * The gid that gets the unix sockets (mode 0660), or undefined for root only (pure). `flag` undefined: the `berth`
 * group when it exists; '' : root only; else a group name or gid that must exist (a typo must not silently leave
 * the socket root-only, nor a number open it to an unknown group).
 */
export function socketGid(flag: string | undefined, groupFile: string): number | undefined {
  const groups = parseGroup(groupFile);
  if (flag === undefined) return groups.find((g) => g.name === DEFAULT_GROUP)?.gid;
  if (flag === '') return undefined;
  const found = /^\d+$/.test(flag) ? groups.find((g) => g.gid === Number(flag)) : groups.find((g) => g.name === flag);
  if (!found) throw new Error(`group ${flag} not found: create it (groupadd ${/^\d+$/.test(flag) ? '-g ' + flag + ' NAME' : flag}) or pass another --group`);
  return found.gid;
}
