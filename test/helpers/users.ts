/** Throw-away Unix users and groups for permission tests (removed by cleanup(), also after failures). */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, type RunResult } from './daemon';

export class TestUsers {
  private readonly users: string[] = [];
  private readonly groups: string[] = [];
  readonly base: string;

  constructor(tag: string) {
    this.base = fs.mkdtempSync(`/var/tmp/berth-users-${tag}-`);
    fs.chmodSync(this.base, 0o755);
  }

  group(name: string): void {
    must('groupadd', [name]);
    this.groups.push(name);
  }

  /** A user with its own home under `base`, in the given supplementary groups. */
  user(name: string, groups: string[] = []): string {
    const home = path.join(this.base, name);
    must('useradd', ['-m', '-d', home, '-s', '/bin/sh', ...(groups.length ? ['-G', groups.join(',')] : []), name]);
    this.users.push(name);
    return home;
  }

  /** The berth CLI as `user` (runuser: no password, a fresh login environment plus `env`). */
  berth(user: string, args: string[], env: Record<string, string>, timeout = 60_000): RunResult {
    const home = path.join(this.base, user);
    const vars = Object.entries({ HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin', ...env }).map(([k, v]) => `${k}=${v}`);
    const r = spawnSync('runuser', ['-u', user, '--', 'env', '-i', ...vars, BERTH, ...args], { encoding: 'utf8', timeout });
    return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  cleanup(): void {
    for (const u of this.users.splice(0)) spawnSync('userdel', ['-r', '-f', u]);
    for (const g of this.groups.splice(0)) spawnSync('groupdel', [g]);
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}
