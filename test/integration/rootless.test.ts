/**
 * Rootless Berth (#16): berthd run by unprivileged test users (created here, with subordinate id ranges added and
 * removed here), driven by the berth CLI (which finds the user's socket with no DOCKER_HOST) and the docker CLI.
 */
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/ports';
import { freeSubidBase, RootlessUser } from '../helpers/rootless-user';
import { BERTHD, REPO } from '../helpers/daemon';

const TUN = '/dev/net/tun';

describe('rootless berthd', { skip: process.getuid?.() !== 0 && 'creates users: run as root' }, () => {
  let alice: RootlessUser;
  let bob: RootlessUser;
  let tunMode: number | undefined;

  before(async () => {
    // slirp4netns opens /dev/net/tun; Debian's udev makes it 0666, a machine without udev may not
    const mode = fs.statSync(TUN).mode & 0o777;
    if (mode !== 0o666) {
      tunMode = mode;
      fs.chmodSync(TUN, 0o666);
    }
    alice = new RootlessUser('a', freeSubidBase(0));
    bob = new RootlessUser('b', freeSubidBase(1));
    await alice.startDaemon();
    await bob.startDaemon();
    alice.importBusybox();
    bob.importBusybox();
  });

  after(async () => {
    await alice?.remove();
    await bob?.remove();
    if (tunMode !== undefined) fs.chmodSync(TUN, tunMode);
  });

  it('keeps its state under the user\'s XDG dirs, owned by the user', () => {
    for (const p of [alice.socket, path.join(alice.home, '.local/share/berth')]) assert.equal(fs.statSync(p).uid, alice.uid, p);
  });

  it('runs containers as root inside while the host process is the user', () => {
    const r = alice.berth(['run', '--rm', 'busybox', 'id', '-u']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0');
    const d = alice.berth(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '300']);
    assert.equal(d.status, 0, d.stderr);
    const pid = alice.berth(['inspect', '-f', '{{.State.Pid}}', 'sleeper']).stdout.trim();
    const uids = /^Uid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1].split(/\s+/).map(Number);
    assert.deepEqual(uids, [alice.uid, alice.uid, alice.uid, alice.uid]);
    assert.equal(alice.berth(['rm', '-f', 'sleeper']).status, 0);
  });

  it('writes files to a bind mount as the user', () => {
    const dir = path.join(alice.home, 'bind');
    assert.equal(alice.run('mkdir', [dir]).status, 0);
    const r = alice.berth(['run', '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'echo hi > /data/f']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.statSync(path.join(dir, 'f')).uid, alice.uid);
  });

  it('does not reach root-owned files through a mount', () => {
    const secret = path.join(alice.home, '..', 'secret');
    fs.mkdirSync(secret, { mode: 0o700 });
    fs.writeFileSync(path.join(secret, 'f'), 'root only\n', { mode: 0o600 });
    const dir = alice.berth(['run', '--rm', '-v', `${secret}:/secret`, 'busybox', 'cat', '/secret/f']);
    assert.notEqual(dir.status, 0);
    assert.match(dir.stderr + dir.stdout, /Permission denied/);
    const file = alice.berth(['run', '--rm', '-v', `${secret}/f:/f`, 'busybox', 'cat', '/f']);
    assert.notEqual(file.status, 0);
    assert.doesNotMatch(file.stdout, /root only/);
    const shadow = alice.berth(['run', '--rm', '-v', '/etc/shadow:/shadow', 'busybox', 'cat', '/shadow']);
    assert.notEqual(shadow.status, 0);
    assert.match(shadow.stderr, /Permission denied/);
    const w = alice.berth(['run', '--rm', '-v', '/etc:/hostetc', 'busybox', 'sh', '-c', 'echo x >> /hostetc/passwd']);
    assert.notEqual(w.status, 0);
    assert.doesNotMatch(fs.readFileSync('/etc/passwd', 'utf8'), /^x$/m);
  });

  it('unpacks a layer with setuid files and device nodes (devices skipped, as rootless Docker)', () => {
    const tar = path.join(alice.home, '..', 'devlayer.tar');
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'brl-layer-'));
    try {
      fs.mkdirSync(path.join(src, 'dev'));
      fs.mkdirSync(path.join(src, 'bin'));
      fs.copyFileSync('/bin/busybox', path.join(src, 'bin/busybox'));
      fs.chmodSync(path.join(src, 'bin/busybox'), 0o4755);
      assert.equal(spawnOk('mknod', [path.join(src, 'dev/mydev'), 'c', '1', '3']), true);
      assert.equal(spawnOk('tar', ['-C', src, '-cf', tar, '.']), true);
      fs.chmodSync(tar, 0o644);
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
    const imp = alice.berth(['import', tar, 'devlayer:1']);
    assert.equal(imp.status, 0, imp.stderr);
    const r = alice.berth(['run', '--rm', 'devlayer:1', '/bin/busybox', 'sh', '-c', 'stat -c %A /bin/busybox; test -e /dev/mydev && echo dev || echo nodev']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['-rwsr-xr-x', 'nodev']);
  });

  it('publishes -p on the host\'s localhost and refuses privileged ports with the sysctl to change', async () => {
    await assertPublishes(alice, 'rootless-web');
    const low = alice.berth(['run', '--rm', '-p', '80:80', 'busybox', 'true']);
    assert.notEqual(low.status, 0);
    assert.match(low.stderr, /cannot expose privileged port 80, you can add 'net\.ipv4\.ip_unprivileged_port_start=80'/);
  });

  it('brings a --restart always container back with its published port after the daemon restarts', async () => {
    const port = await freePort();
    const d = alice.berth(['run', '-d', '--name', 'keeper', '--restart', 'always', '-p', `${port}:80`, 'busybox', 'sh', '-c', 'echo again > /i.html && httpd -f -p 80 -h /']);
    assert.equal(d.status, 0, d.stderr);
    try {
      assert.equal(await getWithRetry(`http://127.0.0.1:${port}/i.html`), 'again\n');
      assert.equal(await alice.stopDaemon(), 0);
      await alice.startDaemon();
      assert.equal(await getWithRetry(`http://127.0.0.1:${port}/i.html`), 'again\n');
      assert.equal(alice.berth(['inspect', '-f', '{{.State.Running}}', 'keeper']).stdout.trim(), 'true');
    } finally {
      alice.berth(['rm', '-f', 'keeper']);
    }
  });

  it('keeps its port forwards when a second berthd of the same user starts and gives up on the data root', async () => {
    const second = alice.run(BERTHD, ['--registries-loopback-only'], { timeout: 60_000 });
    assert.notEqual(second.status, 0);
    assert.match(second.stderr + second.stdout, /another daemon is already listening|is in use by another berthd/);
    await assertPublishes(alice, 'still');
  });

  it('gives container links slirp4netns\'s MTU (a network\'s own: below)', () => {
    const r = alice.berth(['run', '--rm', 'busybox', 'cat', '/sys/class/net/eth0/mtu']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '65520');
  });

  it('reaches the outside network through slirp4netns', () => {
    const r = alice.berth(['run', '--rm', 'busybox', 'ping', '-c', '1', '-W', '5', '10.0.2.2']);
    assert.equal(r.status, 0, r.stderr + r.stdout);
  });

  it('builds an image with RUN', () => {
    const ctx = path.join(alice.home, 'ctx');
    assert.equal(alice.run('mkdir', [ctx]).status, 0);
    assert.equal(alice.run('sh', ['-c', `printf 'FROM busybox\\nRUN id -u > /built-by\\n' > ${ctx}/Dockerfile`]).status, 0);
    const b = alice.berth(['build', '-q', '-t', 'built:1', ctx]);
    assert.equal(b.status, 0, b.stderr);
    assert.equal(alice.berth(['run', '--rm', 'built:1', 'cat', '/built-by']).stdout.trim(), '0');
  });

  it('refuses cgroup limits without delegated cgroups, naming why', () => {
    for (const flag of [['--memory', '64m'], ['--cpus', '1'], ['--pids-limit', '10']]) {
      const r = alice.berth(['run', '--rm', ...flag, 'busybox', 'true']);
      assert.notEqual(r.status, 0, flag[0]);
      assert.match(r.stderr, new RegExp(`rootless Berth cannot apply resource limits: that needs cgroup v2 with systemd delegation.*${flag[0]}`));
    }
  });

  it('keeps two users\' daemons apart', () => {
    assert.equal(bob.berth(['run', '-d', '--name', 'bobs', 'busybox', 'sleep', '300']).status, 0);
    try {
      assert.equal(alice.berth(['ps', '-a', '--format', '{{.Names}}']).stdout.trim(), '');
      assert.equal(bob.berth(['ps', '--format', '{{.Names}}']).stdout.trim(), 'bobs');
      // alice cannot even open bob's socket
      const r = alice.run(BERTH_CLI, ['ps'], { env: { DOCKER_HOST: `unix://${bob.socket}` } });
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /^permission denied on \/run\/user\/\d+\/berth\/berth\.sock: a directory on its path is closed to you/);
      assert.equal(alice.run('test', ['-e', bob.socket]).status, 1, 'bob\'s runtime dir is closed to alice');
    } finally {
      bob.berth(['rm', '-f', 'bobs']);
    }
  });

  it('serves the docker CLI on $XDG_RUNTIME_DIR/berth/berth.sock', () => {
    const r = alice.docker(['run', '--rm', 'busybox', 'id', '-u']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0');
    assert.equal(alice.docker(['images', '--format', '{{.Repository}}']).stdout.includes('busybox'), true);
    assert.match(alice.docker(['info', '--format', '{{json .SecurityOptions}}']).stdout, /name=rootless/);
  });

  it('runs user-defined networks with names (and their own MTU) inside the user\'s network namespace', () => {
    assert.equal(alice.berth(['network', 'create', '-o', 'com.docker.network.driver.mtu=1400', 'appnet']).status, 0);
    try {
      const d = alice.berth(['run', '-d', '--name', 'db', '--network', 'appnet', 'busybox', 'sh', '-c', 'echo by-name > /i.html && httpd -f -p 80 -h /']);
      assert.equal(d.status, 0, d.stderr);
      const r = alice.berth(['run', '--rm', '--network', 'appnet', 'busybox', 'sh', '-c', 'cat /sys/class/net/eth0/mtu; for i in 1 2 3 4 5; do wget -q -O- http://db/i.html && exit 0; sleep 0.5; done; exit 1']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, '1400\nby-name\n');
    } finally {
      alice.berth(['rm', '-f', 'db']);
      alice.berth(['network', 'rm', 'appnet']);
    }
  });
});

describe('rootless berthd: missing pieces', { skip: process.getuid?.() !== 0 && 'creates users: run as root' }, () => {
  let carol: RootlessUser;
  before(() => {
    carol = new RootlessUser('c', undefined);
  });
  after(async () => {
    await carol?.remove();
  });

  it('names missing subordinate ids and the fix, leaving nothing in the home', () => {
    const r = carol.run(BERTHD, []);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`subordinate user ids for ${carol.name} in /etc/subuid.*\\n\\s+fix: sudo usermod --add-subuids 100000-165535 ${carol.name}`));
    assert.match(r.stderr, /\/etc\/subgid/);
    assert.equal(fs.existsSync(path.join(carol.home, '.local')), false);
    const check = carol.berth(['system', 'rootless-check']);
    assert.equal(check.status, 1);
    assert.match(check.stderr, /\/etc\/subuid/);
  });

  it('refuses to install the user service without them, and as root', () => {
    const r = carol.berth(['system', 'install', '--user', '--no-start']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/etc\/subuid/);
    assert.equal(fs.existsSync(path.join(carol.home, '.config')), false);
    const root = spawnSync(BERTH_CLI, ['system', 'install', '--user', '--no-start'], { encoding: 'utf8' });
    assert.equal(root.status, 1);
    assert.match(root.stderr, /--user installs a rootless berthd for the user running it: run it as that user, not as root/);
  });

  it('names a missing uidmap (newuidmap/newgidmap) and the package to install', () => {
    // a PATH with what berthd needs except newuidmap/newgidmap
    const bin = path.join(carol.home, '..', 'bin');
    fs.mkdirSync(bin);
    for (const t of ['node', 'sh', 'cat', 'id', 'dirname', 'readlink', 'unshare', 'slirp4netns']) fs.symlinkSync(spawnOut('sh', ['-c', `command -v ${t}`]), path.join(bin, t));
    const r = carol.run(BERTHD, [], { env: { PATH: bin } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /newuidmap\/newgidmap \(package uidmap\)\n\s+fix: sudo apt-get install -y uidmap/);
    assert.equal(fs.existsSync(path.join(carol.home, '.local')), false);
  });
});

describe('rootless berthd as a systemd user service', { skip: process.getuid?.() !== 0 && 'creates users: run as root' }, () => {
  let dave: RootlessUser;
  let receiver: ChildProcess | undefined;
  before(() => {
    dave = new RootlessUser('s', freeSubidBase(2));
  });
  after(async () => {
    receiver?.kill('SIGKILL');
    await dave?.remove();
  });

  it('system install --user writes a unit whose ExecStart runs the daemon and says READY=1 and STOPPING=1; uninstall --user removes it', async () => {
    const out = dave.berth(['system', 'install', '--user', '--no-start']);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`export DOCKER_HOST=unix://${dave.socket}\n`));
    const unit = path.join(dave.home, '.config/systemd/user/berth.service');
    const text = fs.readFileSync(unit, 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'KillMode=mixed', 'Delegate=yes', 'WantedBy=default.target', `ExecStart=${REPO}/bin/berthd`]) {
      assert.ok(text.includes(`\n${line}\n`), `the unit lacks ${line}`);
    }
    assert.equal(fs.statSync(unit).uid, dave.uid);
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);

    // what systemd --user would do: run ExecStart with NOTIFY_SOCKET in the user's runtime dir
    const notifyDir = path.join(dave.runtimeDir, 'systemd');
    assert.equal(dave.run('mkdir', ['-p', notifyDir]).status, 0);
    const sock = path.join(notifyDir, 'notify');
    const messages = path.join(notifyDir, 'messages');
    const py = `import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(sock)})\nf=open(${JSON.stringify(messages)},'a')\nwhile True:\n  f.write(repr(s.recv(4096).decode())+'\\n'); f.flush()\n`;
    receiver = spawn('runuser', ['-u', dave.name, '--', 'python3', '-c', py], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const execStart = /\nExecStart=(.*)\n/.exec(text)![1].split(' ');
    await dave.startDaemon({ argv: execStart, env: { NOTIFY_SOCKET: sock } });
    for (let i = 0; i < 100 && !(fs.existsSync(messages) && fs.readFileSync(messages, 'utf8').includes('READY=1')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(fs.readFileSync(messages, 'utf8').trim(), "'READY=1'", 'READY=1 without MAINPID: the main process stays the wrapper');
    const v = dave.docker(['version', '--format', '{{.Server.Os}}']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(await dave.stopDaemon(), 0);
    assert.match(fs.readFileSync(messages, 'utf8'), /'STOPPING=1'/);

    const un = dave.berth(['system', 'uninstall', '--user']);
    assert.equal(un.status, 0, un.stderr);
    assert.equal(fs.existsSync(unit), false);
  });
});

const BERTH_CLI = path.resolve(__dirname, '../../../bin/berth');

function spawnOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args).status === 0;
}

function spawnOut(cmd: string, args: string[]): string {
  return spawnSync(cmd, args).stdout.toString().trim();
}

/** A web container `-p <free port>:80` of the user's serves `text` on the host's localhost; removed afterwards. */
async function assertPublishes(user: RootlessUser, text: string): Promise<void> {
  const port = await freePort();
  const d = user.berth(['run', '-d', '--name', `web-${text}`, '-p', `${port}:80`, 'busybox', 'sh', '-c', `echo ${text} > /i.html && httpd -f -p 80 -h /`]);
  try {
    assert.equal(d.status, 0, d.stderr);
    assert.equal(await getWithRetry(`http://127.0.0.1:${port}/i.html`), `${text}\n`);
  } finally {
    user.berth(['rm', '-f', `web-${text}`]);
  }
}

async function getWithRetry(url: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 30; i++) {
    try {
      return await new Promise<string>((resolve, reject) => {
        http.get(url, { timeout: 3000 }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
        }).on('error', reject).on('timeout', function (this: http.ClientRequest) { this.destroy(new Error('timeout')); });
      });
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw last;
}
