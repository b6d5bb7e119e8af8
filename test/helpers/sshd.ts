/**
 * A private OpenSSH server on 127.0.0.1 (own port, config, host key; Debian's sshd) and a client setup for it: an
 * `ssh` wrapper first on PATH that uses our own client config, key and known_hosts (so the berth and docker CLIs,
 * which run plain `ssh`, reach it). stop() kills the server and removes the directory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { freePort } from './ports';

export interface SshUser {
  name: string;
  /** The PATH of its ssh sessions. */
  path: string;
  /** More variables for its sessions (DOCKER_HOST of the remote Berth). */
  env?: Record<string, string>;
}

export class TestSshd {
  port = 0;
  /** Put first on the client's PATH. */
  readonly binDir: string;
  private proc?: ChildProcess;

  constructor(readonly dir: string) {
    this.binDir = path.join(dir, 'bin');
  }

  async start(users: SshUser[]): Promise<void> {
    fs.mkdirSync(this.binDir, { recursive: true });
    fs.mkdirSync(path.join(this.dir, 'keys'));
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
    keygen(path.join(this.dir, 'host_key'));
    keygen(path.join(this.dir, 'client_key'));
    const pub = fs.readFileSync(path.join(this.dir, 'client_key.pub'), 'utf8');
    for (const u of users) {
      fs.writeFileSync(path.join(this.dir, 'keys', u.name), pub, { mode: 0o644 });
      spawnSync('usermod', ['-p', '*', u.name]); // a locked account ('!') may not log in even by key
    }
    this.port = await freePort();
    const matches = users.map((u) => `Match User ${u.name}\n  SetEnv ${Object.entries({ PATH: u.path, ...u.env }).map(([k, v]) => `${k}=${v}`).join(' ')}\n`).join('');
    const config = path.join(this.dir, 'sshd_config');
    fs.writeFileSync(config, [
      `Port ${this.port}`, 'ListenAddress 127.0.0.1', `HostKey ${this.dir}/host_key`, `PidFile ${this.dir}/sshd.pid`,
      `AuthorizedKeysFile ${this.dir}/keys/%u`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
      'StrictModes no', 'PermitRootLogin no', `AllowUsers ${users.map((u) => u.name).join(' ')}`, 'LogLevel ERROR', matches,
    ].join('\n'));
    fs.writeFileSync(path.join(this.dir, 'ssh_config'), [
      'Host *', `  IdentityFile ${this.dir}/client_key`, '  IdentitiesOnly yes', `  UserKnownHostsFile ${this.dir}/known_hosts`,
      '  StrictHostKeyChecking accept-new', '  LogLevel ERROR', '',
    ].join('\n'));
    fs.writeFileSync(path.join(this.binDir, 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F ${this.dir}/ssh_config "$@"\n`, { mode: 0o755 });
    this.proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', fs.openSync(path.join(this.dir, 'sshd.log'), 'a')] });
    for (let i = 0; i < 100; i++) {
      if (this.proc.exitCode !== null) throw new Error(`sshd exited: ${fs.readFileSync(path.join(this.dir, 'sshd.log'), 'utf8')}`);
      if (await answers(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('sshd did not listen within 5 s');
  }

  /** PATH for a client that reaches this server. */
  clientPath(): string {
    return `${this.binDir}:${process.env.PATH}`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await done;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function keygen(file: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}
