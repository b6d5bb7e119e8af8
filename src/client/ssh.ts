/**
 * ssh:// hosts as docker's connhelper: each API connection is an `ssh [-l user] [-p port] -- host berth system
 * dial-stdio` process whose stdio carries the HTTP stream. The client gets a private unix socket whose every
 * connection is piped to a new ssh process, so HTTP, hijacked streams and half-closes behave as on a local socket.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
}

/** Parses ssh://[user@]host[:port] (pure); docker refuses a path, a password or a query, so do we. */
export function parseSshUrl(url: string): SshTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid ssh URL ${JSON.stringify(url)}: use ssh://[user@]host[:port]`);
  }
  if (u.protocol !== 'ssh:' || !u.hostname) throw new Error(`invalid ssh URL ${JSON.stringify(url)}: use ssh://[user@]host[:port]`);
  if (u.password) throw new Error(`invalid ssh URL ${JSON.stringify(url)}: plain-text password is not supported`);
  if ((u.pathname && u.pathname !== '/') || u.search) throw new Error(`invalid ssh URL ${JSON.stringify(url)}: extra path or query after the host is not supported`);
  return {
    ...(u.username ? { user: decodeURIComponent(u.username) } : {}),
    host: u.hostname.replace(/^\[|\]$/g, ''),
    ...(u.port ? { port: Number(u.port) } : {}),
  };
}

/** The ssh command line for one connection (pure). */
export function sshArgs(t: SshTarget, remote: string[] = ['berth', 'system', 'dial-stdio']): string[] {
  return ['-o', 'ConnectTimeout=30', '-o', 'BatchMode=yes', ...(t.user ? ['-l', t.user] : []), ...(t.port ? ['-p', String(t.port)] : []), '--', t.host, ...remote];
}

export const formatSsh = (t: SshTarget): string => `ssh://${t.user ? t.user + '@' : ''}${t.host}${t.port ? ':' + t.port : ''}`;

/** Why an ssh process failed, as one line that says what to do (pure). */
export function sshFailure(t: SshTarget, status: number | null, stderr: string): string {
  const last = stderr.trim().split('\n').filter(Boolean).at(-1) ?? '';
  const where = formatSsh(t);
  if (status === 127 || /berth: (command )?not found|No such file/.test(last)) {
    return `error during connect: berth is not installed on ${where} (the remote shell said: ${last || `exit status ${status}`}); install Berth there and put berth on the PATH of non-interactive ssh sessions`;
  }
  if (status === 255) return `error during connect: cannot ssh to ${where}: ${last || 'ssh failed'}; check the host, port, user and your ssh keys (ssh ${sshArgs(t, []).join(' ')})`;
  return `error during connect: berth system dial-stdio on ${where} failed (exit status ${status}): ${last}`;
}

/** A local socket tunnelled over ssh; `failure` holds the first failed ssh's message. */
export class SshTunnel {
  failure?: string;
  readonly socketPath: string;
  private readonly dir: string;
  private readonly server: net.Server;

  constructor(readonly target: SshTarget) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ssh-'));
    this.socketPath = path.join(this.dir, 's');
    this.server = net.createServer({ allowHalfOpen: true }, (c) => this.pipe(c));
    process.once('exit', () => fs.rmSync(this.dir, { recursive: true, force: true }));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.unref();
        resolve();
      });
    });
  }

  private pipe(c: net.Socket): void {
    const child = spawn('ssh', sshArgs(this.target), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
    child.on('error', (e) => {
      this.failure ??= `error during connect: cannot run ssh: ${e.message}; install an OpenSSH client`;
      c.destroy();
    });
    c.pipe(child.stdin);
    c.on('error', () => child.kill());
    child.stdin.on('error', () => undefined);
    child.stdout.pipe(c, { end: false });
    // ended only once ssh has exited, so that a failure is known before the client sees the connection close
    child.on('close', (status) => {
      if (status !== 0 && status !== null) this.failure ??= sshFailure(this.target, status, stderr);
      c.end();
    });
  }
}
