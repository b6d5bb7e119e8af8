/**
 * Remote access over ssh: a private OpenSSH server on 127.0.0.1 logs a test user (in the daemon's socket group) into
 * this machine, where `berth system dial-stdio` connects to berthd. The berth CLI (DOCKER_HOST/-H ssh://) and the
 * docker CLI use it; an unreachable host and a host without Berth are one line each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, TestDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';
import { TestSshd } from '../helpers/sshd';
import { HAVE_TMUX, interactiveSession } from '../helpers/term';
import { TestUsers } from '../helpers/users';

const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string): string => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

describe('ssh:// hosts', () => {
  const tag = `bss${process.pid % 100000}`;
  const users = new TestUsers(tag);
  const group = `${tag}g`;
  const user = `${tag}r`;
  const noBerth = `${tag}n`;
  const dir = fs.mkdtempSync('/var/tmp/berth-ssh-');
  const sshd = new TestSshd(path.join(dir, 'sshd'));
  const d = new TestDaemon('ssh', ['--group', group]);
  let host = '';
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, PATH: sshd.clientPath(), DOCKER_HOST: host });
  const berth = (args: string[], input?: string) => spawnSync(BERTH, args, { env: env(), encoding: 'utf8', input, timeout: 60_000 });

  before(async () => {
    fs.chmodSync(dir, 0o755);
    users.group(group);
    users.user(user, [group]);
    users.user(noBerth);
    await d.start();
    fs.chmodSync(d.execRoot, 0o711);
    d.importBusybox();
    // the remote side: `berth` (and `docker`, which the docker CLI runs remotely) are this build's CLI
    const remoteBin = path.join(dir, 'remote-bin');
    fs.mkdirSync(remoteBin);
    for (const name of ['berth', 'docker']) fs.symlinkSync(BERTH, path.join(remoteBin, name));
    await sshd.start([
      { name: user, path: `${remoteBin}:/usr/bin:/bin`, env: { DOCKER_HOST: `unix://${d.socket}` } },
      { name: noBerth, path: '/usr/bin:/bin' },
    ]);
    host = `ssh://${user}@127.0.0.1:${sshd.port}`;
  });
  after(async () => {
    await sshd.stop();
    await d.stop();
    users.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the berth CLI works over ssh: version, ps, run, run -i, logs -f, cp, build', () => {
    assert.match(ok(berth(['version', '--format', '{{.Server.Version}}']), 'version'), /^\d+\.\d+/);
    ok(berth(['ps']), 'ps');
    assert.equal(ok(berth(['run', '--rm', 'busybox', 'echo', 'over ssh']), 'run'), 'over ssh\n');
    assert.equal(ok(berth(['run', '-i', '--rm', 'busybox', 'cat'], 'stdin over ssh\n'), 'run -i'), 'stdin over ssh\n');
    ok(berth(['run', '-d', '--name', 'sshlogs', 'busybox', 'sh', '-c', 'echo one | tee /f; sleep 1; echo two']), 'run -d');
    assert.equal(ok(berth(['logs', '-f', 'sshlogs']), 'logs -f'), 'one\ntwo\n');
    const out = path.join(dir, 'copied');
    ok(berth(['cp', 'sshlogs:/f', out]), 'cp');
    assert.equal(fs.readFileSync(out, 'utf8'), 'one\n');
    const ctx = path.join(dir, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /b\n');
    ok(berth(['build', '-q', '-t', 'sshbuilt', ctx]), 'build');
    assert.equal(ok(berth(['-H', host, 'run', '--rm', 'sshbuilt', 'cat', '/b']), 'run built (-H)'), 'built\n');
  });

  it('run -it and exec -it over ssh', { skip: HAVE_TMUX ? false : 'tmux is not installed' }, async () => {
    await interactiveSession(`sshit${process.pid}`, env(), BERTH);
  });

  it('the docker CLI works over ssh against a remote Berth (berth system dial-stdio)', () => {
    const r = spawnSync('docker', ['run', '--rm', 'busybox', 'echo', 'docker over ssh'], { env: env(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(ok(r, 'docker run'), 'docker over ssh\n');
    assert.match(ok(spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { env: env(), encoding: 'utf8' }), 'docker ps'), /sshlogs/);
  });

  it('an ssh context names the host for both CLIs', () => {
    const home = fs.mkdtempSync(path.join(dir, 'home-'));
    const e: NodeJS.ProcessEnv = { ...env(), HOME: home, DOCKER_CONFIG: path.join(home, '.docker') };
    delete e.DOCKER_HOST;
    ok(spawnSync(BERTH, ['context', 'create', 'over-ssh', '--docker', `host=${host}`], { env: e, encoding: 'utf8' }), 'context create');
    ok(spawnSync(BERTH, ['context', 'use', 'over-ssh'], { env: e, encoding: 'utf8' }), 'context use');
    assert.match(ok(spawnSync(BERTH, ['ps', '-a', '--format', '{{.Names}}'], { env: e, encoding: 'utf8' }), 'berth ps'), /sshlogs/);
    assert.match(ok(spawnSync('docker', ['ps', '-a', '--format', '{{.Names}}'], { env: e, encoding: 'utf8' }), 'docker ps'), /sshlogs/);
    assert.match(ok(spawnSync(BERTH, ['version'], { env: e, encoding: 'utf8' }), 'version'), /\n Context:\s+over-ssh\n/);
  });

  it('an unreachable ssh host is one line, exit status 1', async () => {
    const port = await freePort();
    const r = spawnSync(BERTH, ['-H', `ssh://${user}@127.0.0.1:${port}`, 'ps'], { env: env(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^error during connect: cannot ssh to ssh://${user}@127.0.0.1:${port}: .*Connection refused; check the host, port, user and your ssh keys .*\\n$`));
  });

  it('a host without Berth is one line, exit status 1', () => {
    const r = spawnSync(BERTH, ['-H', `ssh://${noBerth}@127.0.0.1:${sshd.port}`, 'ps'], { env: env(), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error during connect: berth is not installed on ssh:\/\/\S+ \(the remote shell said: .*berth: (command )?not found\); install Berth there and put berth on the PATH of non-interactive ssh sessions\n$/);
  });
});
