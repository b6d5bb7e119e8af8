/**
 * Berth as a system service: the systemd units (systemd-analyze verify), socket activation (systemd-socket-activate)
 * with sd_notify READY/STOPPING, JSON logs, the socket group (a member runs containers, another user is refused), and
 * TCP with mutual TLS for the berth and docker CLIs (refused without a client certificate, with another CA's, with an
 * expired one).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BERTH, BERTHD, REPO, TestDaemon } from '../helpers/daemon';
import { makePki } from '../helpers/certs';
import { freePort } from '../helpers/ports';
import { HAVE_TMUX, interactiveSession } from '../helpers/term';
import { TestUsers } from '../helpers/users';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string): string => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);
  return r.stdout;
};

describe('systemd units', () => {
  const dir = fs.mkdtempSync('/var/tmp/berth-units-');
  const hadGroup = spawnSync('getent', ['group', 'berth']).status === 0;
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (!hadGroup) spawnSync('groupdel', ['berth']);
  });

  it('system install writes units that pass systemd-analyze verify, creates the berth group; uninstall removes them', () => {
    const out = ok(spawnSync(BERTH, ['system', 'install', '--unit-dir', dir, '--no-start'], { encoding: 'utf8' }), 'install');
    assert.match(out, /members of the group "berth"/);
    assert.equal(spawnSync('getent', ['group', 'berth']).status, 0);
    const service = fs.readFileSync(path.join(dir, 'berth.service'), 'utf8');
    for (const line of ['Type=notify', 'KillMode=process', 'Delegate=yes', 'LimitNOFILE=1048576', 'TasksMax=infinity', `ExecStart=${REPO}/bin/berthd -H fd://`]) {
      assert.ok(service.includes(`\n${line}\n`), `berth.service lacks ${line}`);
    }
    const socket = fs.readFileSync(path.join(dir, 'berth.socket'), 'utf8');
    assert.match(socket, /\nListenStream=\/run\/berth\/berth.sock\n[^]*\nSocketGroup=berth\n/);
    const files = ['berth.socket', 'berth.service'].map((f) => path.join(dir, f));
    ok(spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' }), 'systemd-analyze verify');
    // the check can fail: a broken copy is refused
    const broken = path.join(dir, 'broken.service');
    fs.writeFileSync(broken, service.replace('Type=notify', 'Type=notifyy'));
    const bad = spawnSync('systemd-analyze', ['verify', broken], { encoding: 'utf8' });
    assert.match(bad.stderr, /Failed to parse service type|notifyy/);
    fs.rmSync(broken);
    ok(spawnSync(BERTH, ['system', 'uninstall', '--unit-dir', dir], { encoding: 'utf8' }), 'uninstall');
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});

describe('socket activation and sd_notify', () => {
  const dir = fs.mkdtempSync('/var/tmp/berth-notify-');
  const notifySocket = path.join(dir, 'notify');
  let receiver: ChildProcess;
  const messages = (): string => fs.readFileSync(path.join(dir, 'messages'), 'utf8');
  const d = new TestDaemon('activation', ['--log-format', 'json'], (daemon, args) => ({
    cmd: 'systemd-socket-activate',
    args: ['-l', daemon.socket, '--fdname=berth.socket', '-E', 'NOTIFY_SOCKET', BERTHD, '-H', 'fd://', ...args],
    env: { ...process.env, NOTIFY_SOCKET: notifySocket },
  }));

  before(async () => {
    // Node has no unix datagram sockets: python receives the notifications (one per line).
    const py = `import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(${JSON.stringify(notifySocket)})\nf=open(${JSON.stringify(path.join(dir, 'messages'))},'a')\nwhile True:\n  f.write(repr(s.recv(4096).decode())+'\\n'); f.flush()\n`;
    receiver = spawn('python3', ['-c', py], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !fs.existsSync(notifySocket); i++) await sleep(50);
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d.stop();
    receiver.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API on the socket systemd passed, says READY=1, logs JSON, and STOPPING=1 on stop', async () => {
    assert.match(d.log(), /Listening on .* as 3/); // systemd-socket-activate made the socket, not berthd
    ok(d.berth(['run', '--rm', 'busybox', 'true']), 'run over the activated socket');
    for (let i = 0; i < 100 && !messages().includes('READY=1'); i++) await sleep(50);
    assert.match(messages(), /'READY=1\\nMAINPID=\d+'/);
    const lines = d.log().split('\n').filter((l) => l.startsWith('{'));
    const listening = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'API listening (socket activation)');
    assert.deepEqual([listening?.level, listening?.fd, listening?.name], ['info', 3, 'berth.socket']);
    ok(d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sleep', '300']), 'run -d');
    const code = d.exited();
    process.kill(d.pid!, 'SIGTERM');
    assert.equal(await code, 0);
    assert.match(messages(), /'STOPPING=1'/);
    await d.start(); // containers outlive the daemon (KillMode=process keeps them under systemd too)
    assert.equal(d.berth(['inspect', '-f', '{{.State.Running}}', 'survivor']).stdout.trim(), 'true');
  });

  it('refuses fd:// when systemd passed no socket, in one line', () => {
    const r = spawnSync(BERTHD, ['-H', 'fd://', '--data-root', path.join(dir, 'x'), '--exec-root', path.join(dir, 'y')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no sockets found via socket activation \(fd:\/\/\): make sure the service was started by systemd/);
  });
});

describe('socket group', () => {
  const tag = `bsv${process.pid % 100000}`;
  const users = new TestUsers(tag);
  const group = `${tag}g`;
  let d: TestDaemon;

  before(async () => {
    users.group(group);
    users.user(`${tag}in`, [group]);
    users.user(`${tag}out`);
    d = new TestDaemon('group', ['--group', group]);
    await d.start();
    fs.chmodSync(d.execRoot, 0o711); // the test's exec root is private; /run/berth is 0711 too
    d.importBusybox();
  });
  after(async () => {
    await d?.stop();
    users.cleanup();
  });

  it('gives the socket to the group: a member runs containers, anyone else gets one line saying what to do', () => {
    const st = fs.statSync(d.socket);
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(st.uid, 0);
    assert.equal(String(st.gid), spawnSync('getent', ['group', group], { encoding: 'utf8' }).stdout.split(':')[2]);
    const env = { DOCKER_HOST: `unix://${d.socket}` };
    ok(users.berth(`${tag}in`, ['run', '--rm', 'busybox', 'true'], env), 'member runs a container');
    const r = users.berth(`${tag}out`, ['ps'], env);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `permission denied on ${d.socket}: add yourself to the berth group or use sudo\n`);
  });

  it('berthd refuses an unknown --group before touching anything', () => {
    const r = spawnSync(BERTHD, ['--group', `${tag}nope`, '--data-root', '/nonexistent/x', '--exec-root', '/nonexistent/y'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`group ${tag}nope not found: create it`));
    assert.ok(!fs.existsSync('/nonexistent'));
  });
});

describe('TCP with mutual TLS', () => {
  const dir = fs.mkdtempSync('/var/tmp/berth-tls-');
  const pki = makePki(dir);
  let port = 0;
  const d = new TestDaemon('tls', [], (daemon, args) => ({
    cmd: BERTHD,
    args: [...args, '-H', `unix://${daemon.socket}`, '-H', `tcp://127.0.0.1:${port}`, '--tlsverify', '--tlscacert', pki.server.ca, '--tlscert', pki.server.cert, '--tlskey', pki.server.key],
  }));
  const tcp = (): string => `tcp://127.0.0.1:${port}`;
  /** Env of a client using the DOCKER_CERT_PATH-style directory `certs`. */
  const tlsEnv = (certs: string): NodeJS.ProcessEnv => ({ ...process.env, DOCKER_HOST: tcp(), DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs });
  const berth = (certs: string, args: string[], input?: string) => spawnSync(BERTH, args, { env: tlsEnv(certs), encoding: 'utf8', input, timeout: 60_000 });

  before(async () => {
    port = await freePort();
    await d.start();
    d.importBusybox();
  });
  after(async () => {
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the berth CLI works over TLS: ps, run, logs -f, cp, build', () => {
    ok(berth(pki.client, ['ps']), 'ps');
    assert.equal(ok(berth(pki.client, ['run', '--rm', 'busybox', 'echo', 'over tls']), 'run'), 'over tls\n');
    assert.equal(ok(berth(pki.client, ['run', '-i', '--rm', 'busybox', 'cat'], 'stdin over tls\n'), 'run -i'), 'stdin over tls\n');
    ok(berth(pki.client, ['run', '-d', '--name', 'tlslogs', 'busybox', 'sh', '-c', 'echo one | tee /f; sleep 1; echo two']), 'run -d');
    assert.equal(ok(berth(pki.client, ['logs', '-f', 'tlslogs']), 'logs -f'), 'one\ntwo\n');
    const out = path.join(dir, 'copied');
    ok(berth(pki.client, ['cp', 'tlslogs:/f', out]), 'cp');
    assert.equal(fs.readFileSync(out, 'utf8'), 'one\n');
    const ctx = path.join(dir, 'ctx');
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /b\n');
    ok(berth(pki.client, ['build', '-q', '-t', 'tlsbuilt', ctx]), 'build');
    assert.equal(ok(berth(pki.client, ['run', '--rm', 'tlsbuilt', 'cat', '/b']), 'run built'), 'built\n');
  });

  it('run -it and exec -it over TLS', { skip: HAVE_TMUX ? false : 'tmux is not installed' }, async () => {
    await interactiveSession(`tlsit${process.pid}`, tlsEnv(pki.client), BERTH);
  });

  it('the docker CLI works over TLS against berthd', () => {
    const r = spawnSync('docker', ['--tlsverify', '--tlscacert', path.join(pki.client, 'ca.pem'), '--tlscert', path.join(pki.client, 'cert.pem'), '--tlskey', path.join(pki.client, 'key.pem'), '-H', tcp(), 'run', '--rm', 'busybox', 'echo', 'docker over tls'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: '' } });
    assert.equal(ok(r, 'docker run'), 'docker over tls\n');
  });

  for (const [what, certs] of [['without a client certificate', 'noCert'], ['with a certificate of another CA', 'otherCa'], ['with an expired certificate', 'expired']] as const) {
    it(`refuses a client ${what}: one line, exit status 1`, () => {
      // --tls checks the daemon without requiring client files (DOCKER_TLS_VERIFY would refuse the missing cert.pem)
      const r = spawnSync(BERTH, ['--tls', '--tlscacert', path.join(pki[certs], 'ca.pem'), 'ps'], { env: { ...process.env, DOCKER_HOST: tcp(), DOCKER_CERT_PATH: pki[certs] }, encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^error during connect: TLS with tcp:\/\/127\.0\.0\.1:\d+ failed: .*; check --tlscacert, --tlscert and --tlskey \(or the files in DOCKER_CERT_PATH\)\n$/);
      assert.match(d.log(), /TLS handshake refused/); // berthd refused it, not the client
    });
  }

  it('contexts in docker\'s store: berth and docker create, use, list, export and import the same contexts', () => {
    const home = fs.mkdtempSync(path.join(dir, 'home-'));
    const cfg = path.join(home, '.docker');
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, DOCKER_CONFIG: cfg };
    delete env.DOCKER_HOST;
    delete env.DOCKER_CONTEXT;
    const run = (cmd: string, args: string[], extra: NodeJS.ProcessEnv = {}) => spawnSync(cmd, args, { env: { ...env, ...extra }, encoding: 'utf8', timeout: 60_000 });
    const c = pki.client;
    const docker = `host=${tcp()},ca=${c}/ca.pem,cert=${c}/cert.pem,key=${c}/key.pem`;
    assert.equal(ok(run(BERTH, ['context', 'create', 'tls-b', '--description', 'made by berth', '--docker', docker]), 'berth context create'), 'tls-b\n');
    ok(run('docker', ['context', 'create', 'tls-d', '--description', 'made by docker', '--docker', docker]), 'docker context create');
    // each CLI reaches berthd through the context the other made
    assert.equal(ok(run(BERTH, ['--context', 'tls-d', 'run', '--rm', 'busybox', 'echo', 'ctx']), 'berth --context'), 'ctx\n');
    assert.equal(ok(run('docker', ['--context', 'tls-b', 'run', '--rm', 'busybox', 'echo', 'ctx']), 'docker --context'), 'ctx\n');
    assert.equal(ok(run(BERTH, ['version', '--format', '{{.Client.Context}} {{.Server.Os}}'], { DOCKER_CONTEXT: 'tls-b' }), 'DOCKER_CONTEXT'), 'tls-b linux\n');
    assert.match(ok(run(BERTH, ['-c', 'tls-b', 'version']), 'version'), /\n Context:\s+tls-b\n/);
    ok(run(BERTH, ['context', 'use', 'tls-d']), 'context use');
    assert.match(ok(run(BERTH, ['info']), 'info'), /\n Context:\s+tls-d\n/);
    const table = (cmd: string) => ok(run(cmd, ['context', 'ls', '--format', '{{.Name}}|{{.Current}}|{{.Description}}|{{.DockerEndpoint}}']), `${cmd} context ls`).split('\n').filter((l) => !l.startsWith('default|'));
    assert.deepEqual(table(BERTH), table('docker'));
    assert.deepEqual(table(BERTH), [`tls-b|false|made by berth|${tcp()}`, `tls-d|true|made by docker|${tcp()}`, '']);
    // export from berth, import with docker (and back), TLS material included
    const archive = path.join(home, 'b.dockercontext');
    ok(run(BERTH, ['context', 'export', 'tls-b', archive]), 'berth context export');
    ok(run('docker', ['context', 'import', 'from-berth', archive]), 'docker context import');
    ok(run('docker', ['context', 'export', 'tls-d', path.join(home, 'd.dockercontext')]), 'docker context export');
    ok(run(BERTH, ['context', 'import', 'from-docker', path.join(home, 'd.dockercontext')]), 'berth context import');
    assert.equal(ok(run('docker', ['--context', 'from-berth', 'version', '--format', '{{.Server.Os}}']), 'docker via imported context'), 'linux\n');
    assert.equal(ok(run(BERTH, ['--context', 'from-docker', 'version', '--format', '{{.Server.Os}}']), 'berth via imported context'), 'linux\n');
    ok(run(BERTH, ['context', 'update', 'from-docker', '--description', 'updated']), 'update');
    assert.match(ok(run('docker', ['context', 'inspect', 'from-docker']), 'docker context inspect'), /"Description": "updated"/);
    ok(run(BERTH, ['context', 'rm', '-f', 'tls-d', 'from-docker', 'from-berth']), 'rm');
    assert.match(ok(run('docker', ['context', 'ls', '-q']), 'docker context ls -q'), /^default\ntls-b\n$/);
    const unknown = run(BERTH, ['--context', 'nope', 'ps']);
    assert.equal(unknown.status, 1);
    assert.equal(unknown.stderr, `context "nope" does not exist: see 'berth context ls', or create it with 'berth context create nope --docker host=...'\n`);
  });

  it('refuses a daemon whose certificate the client does not trust', () => {
    const r = spawnSync(BERTH, ['--tlsverify', '--tlscacert', path.join(dir, 'other-ca.pem'), '--tlscert', path.join(pki.client, 'cert.pem'), '--tlskey', path.join(pki.client, 'key.pem'), '-H', tcp(), 'ps'], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: '' } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error during connect: TLS with tcp:\/\/127\.0\.0\.1:\d+ failed: .*certificate.*\n$/);
  });
});
