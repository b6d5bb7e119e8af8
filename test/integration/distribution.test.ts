/**
 * Pull, push and login end to end (loopback only): the berth CLI and the docker CLI through berthd, against
 * `berth registry serve` and Debian's docker-registry (distribution 2.8), with and without basic auth, over plain HTTP
 * and TLS with a test CA; a registry that breaks mid-blob; round trip import -> push -> rmi -> pull -> run.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bcrypt from 'bcryptjs';
import { BERTH, TestDaemon, type RunResult } from '../helpers/daemon';
import { freePort, startServer } from '../helpers/ports';

const hasDebianRegistry = spawnSync('docker-registry', ['--version']).status === 0;
const FLAKY_PROXY = `
const http = require('http');
const [target, port, cutAfter, failures] = process.argv.slice(1);
let failed = 0;
http.createServer((req, res) => {
  const up = http.request(target + req.url, { method: req.method, headers: req.headers }, (ur) => {
    const cut = req.method === 'GET' && /\\/blobs\\/sha256:/.test(req.url) && ur.statusCode === 200 && failed < Number(failures);
    res.writeHead(ur.statusCode, ur.headers);
    if (!cut) return ur.pipe(res);
    let n = 0;
    ur.on('data', (c) => {
      n += c.length;
      if (n <= Number(cutAfter)) return res.write(c);
      failed++;
      ur.destroy();
      res.destroy();
    });
    ur.on('end', () => res.end());
  });
  req.pipe(up);
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
`;

const children: ChildProcess[] = [];

async function spawnServer(cmd: string, args: string[], port: number, logFile: string): Promise<string> {
  children.push(await startServer(cmd, args, port, logFile));
  return `127.0.0.1:${port}`;
}

const ok = (r: RunResult, what: string): void => assert.equal(r.status, 0, `${what}: ${r.stderr}\n${r.stdout}`);

describe('distribution: pull, push, login', () => {
  const d = new TestDaemon('dist');
  let work: string;
  let home: string;
  let berthReg: string;
  let htpasswd: string;
  const certDirs: string[] = [];

  const berth = (args: string[], input?: string): RunResult => {
    const r = spawnSync(BERTH, [...args], { env: { ...d.env, HOME: home }, input, timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const docker = (args: string[]): RunResult => {
    const r = spawnSync('docker', args, { env: { ...d.env, HOME: home, DOCKER_CONFIG: path.join(home, '.docker') }, timeout: 120_000 });
    return { status: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const imageId = (ref: string): string => berth(['image', 'inspect', '-f', '{{.Id}}', ref]).stdout.trim();
  const blobCount = (): number => fs.readdirSync(path.join(d.dataRoot, 'image/content/blobs/sha256')).length;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dist-'));
    home = path.join(work, 'home');
    fs.mkdirSync(home);
    htpasswd = path.join(work, 'htpasswd');
    fs.writeFileSync(htpasswd, `tester:${bcrypt.hashSync('secretpw', 10)}\n`);
    await d.start();
    d.importBusybox();
    const port = await freePort();
    berthReg = await spawnServer(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', path.join(work, 'berth-reg')], port, path.join(work, 'berth-reg.log'));
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const dir of certDirs) fs.rmSync(dir, { recursive: true, force: true });
    await d.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('round trip through berth registry serve: push, push again, rmi, pull, run — same ID and digests', () => {
    const img = `${berthReg}/rt/busybox:v1`;
    ok(berth(['tag', 'busybox', img]), 'tag');
    const id = imageId(img);
    const p1 = berth(['push', img]);
    ok(p1, 'push');
    assert.match(p1.stdout, /The push refers to repository \[127\.0\.0\.1:\d+\/rt\/busybox\]/);
    assert.match(p1.stdout, /[0-9a-f]{12}: Pushed/);
    const digest = /v1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(p1.stdout)?.[1];
    assert.ok(digest, p1.stdout);
    const p2 = berth(['push', img]);
    ok(p2, 'push again');
    assert.match(p2.stdout, /: Layer already exists/);
    assert.ok(p2.stdout.includes(`v1: digest: ${digest}`), 'the second push gives the same manifest digest');

    ok(berth(['rmi', img, 'busybox']), 'rmi');
    assert.equal(berth(['image', 'inspect', img]).status, 1);
    const pull = berth(['pull', img]);
    ok(pull, 'pull');
    assert.match(pull.stdout, /v1: Pulling from rt\/busybox/);
    assert.match(pull.stdout, /[0-9a-f]{12}: Pull complete/);
    assert.ok(pull.stdout.includes(`Digest: ${digest}`));
    assert.match(pull.stdout, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/rt\/busybox:v1/);
    assert.equal(imageId(img), id, 'same image ID after the round trip');
    const digests = berth(['image', 'inspect', '-f', '{{json .RepoDigests}}', img]).stdout;
    assert.ok(digests.includes(`${berthReg}/rt/busybox@${digest}`), digests);
    const run = berth(['run', '--rm', img, 'echo', 'round-trip-ok']);
    ok(run, 'run');
    assert.equal(run.stdout.trim(), 'round-trip-ok');
    const again = berth(['pull', img]);
    assert.match(again.stdout, /Status: Image is up to date/);
    ok(berth(['tag', img, 'busybox']), 'restore busybox');

    // by digest, and every tag
    ok(berth(['tag', 'busybox', `${berthReg}/rt/busybox:v2`]), 'tag v2');
    ok(berth(['push', `${berthReg}/rt/busybox:v2`]), 'push v2');
    ok(berth(['rmi', `${berthReg}/rt/busybox:v1`, `${berthReg}/rt/busybox:v2`]), 'rmi both');
    const byDigest = berth(['pull', `${berthReg}/rt/busybox@${digest}`]);
    ok(byDigest, 'pull by digest');
    assert.equal(imageId(`${berthReg}/rt/busybox@${digest}`), id);
    const all = berth(['pull', '-a', `${berthReg}/rt/busybox`]);
    ok(all, 'pull -a');
    assert.match(all.stdout, /v1: Pulling from rt\/busybox[\s\S]*v2: Pulling from rt\/busybox/);
    assert.equal(imageId(`${berthReg}/rt/busybox:v2`), id);
  });

  it('says what is missing: unknown tag, unknown local image, bad reference', () => {
    const r = berth(['pull', `${berthReg}/rt/busybox:nope`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /manifest for 127\.0\.0\.1:\d+\/rt\/busybox:nope not found: manifest_unknown/);
    const p = berth(['push', `${berthReg}/never/made:v1`]);
    assert.equal(p.status, 1);
    assert.match(p.stderr, /An image does not exist locally with the tag: 127\.0\.0\.1:\d+\/never\/made:v1/);
    assert.match(berth(['pull', 'busybox::x']).stderr, /invalid reference format/);
  });

  it('Debian docker-registry with basic auth: berth login/logout, push, pull; the docker CLI push/pull/login', { skip: !hasDebianRegistry && 'apt-get install docker-registry' }, async () => {
    const port = await freePort();
    const cfg = path.join(work, 'dr.yml');
    fs.writeFileSync(cfg, [
      'version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(work, 'dr-root')}`,
      'http:', `  addr: 127.0.0.1:${port}`, 'auth:', '  htpasswd:', '    realm: test', `    path: ${htpasswd}`, '',
    ].join('\n'));
    const reg = await spawnServer('docker-registry', ['serve', cfg], port, path.join(work, 'dr.log'));
    const img = `${reg}/auth/busybox:v1`;
    ok(berth(['tag', 'busybox', img]), 'tag');
    const denied = berth(['push', img]);
    assert.equal(denied.status, 1);
    assert.ok(denied.stderr.includes(`${reg}: unauthorized`), denied.stderr);
    const bad = berth(['login', '-u', 'tester', '--password-stdin', reg], 'wrong\n');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /401 Unauthorized/);
    const login = berth(['login', '-u', 'tester', '--password-stdin', reg], 'secretpw\n');
    ok(login, 'login');
    assert.match(login.stdout, /Login Succeeded/);
    const conf = JSON.parse(fs.readFileSync(path.join(home, '.docker/config.json'), 'utf8'));
    assert.equal(conf.auths[reg].auth, Buffer.from('tester:secretpw').toString('base64'));
    const push = berth(['push', img]);
    ok(push, 'push with credentials');
    const digest = /v1: digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
    ok(berth(['rmi', img]), 'rmi');
    ok(berth(['pull', img]), 'pull with credentials');

    // the docker CLI through berthd, with the credentials berth login stored
    ok(docker(['rmi', img]), 'docker rmi');
    const dpull = docker(['pull', img]);
    ok(dpull, 'docker pull');
    assert.ok(dpull.stdout.includes(`Digest: ${digest}`), dpull.stdout);
    ok(docker(['tag', img, `${reg}/auth/other:v1`]), 'docker tag');
    const dpush = docker(['push', `${reg}/auth/other:v1`]);
    ok(dpush, 'docker push');
    assert.match(dpush.stdout, /(Mounted from auth\/busybox|Layer already exists)/);
    assert.ok(dpush.stdout.includes(`v1: digest: ${digest}`), dpush.stdout);
    ok(berth(['logout', reg]), 'logout');
    assert.match(berth(['pull', img]).stderr, /pull access denied/);
    const dlogin = docker(['login', '-u', 'tester', '-p', 'secretpw', reg]);
    ok(dlogin, 'docker login');
    ok(berth(['pull', img]), 'pull with the docker CLI\'s stored credentials');
  });

  it('TLS with a test CA from certs.d; a wrong CA is refused', async () => {
    const ca = path.join(work, 'ca');
    fs.mkdirSync(ca);
    const sh = (cmd: string): void => assert.equal(spawnSync('sh', ['-c', cmd], { cwd: ca }).status, 0, cmd);
    sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=berth-test-ca 2>/dev/null');
    sh('openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null');
    sh('printf "subjectAltName=IP:127.0.0.1\\n" > ext && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext 2>/dev/null');
    sh('openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=other-ca 2>/dev/null');
    const port = await freePort();
    const reg = await spawnServer(BERTH, ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', path.join(work, 'tls-root'),
      '--tls-cert', path.join(ca, 'srv.crt'), '--tls-key', path.join(ca, 'srv.key')], port, path.join(work, 'tls.log'));
    const certs = `/etc/berth/certs.d/${reg}`;
    certDirs.push(certs);
    fs.mkdirSync(certs, { recursive: true });
    fs.copyFileSync(path.join(ca, 'other.crt'), path.join(certs, 'ca.crt'));
    const img = `${reg}/tls/busybox:v1`;
    ok(berth(['tag', 'busybox', img]), 'tag');
    const refused = berth(['push', img]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /certificate/i);
    fs.copyFileSync(path.join(ca, 'ca.crt'), path.join(certs, 'ca.crt'));
    ok(berth(['push', img]), 'push over verified TLS');
    ok(berth(['rmi', img]), 'rmi');
    ok(berth(['pull', img]), 'pull over verified TLS');
  });

  it('a registry that closes mid-blob: bounded retries, then a clean store', async () => {
    // a 4 MB layer so that the cut happens mid-blob
    const rootfs = path.join(work, 'big');
    fs.mkdirSync(rootfs);
    fs.writeFileSync(path.join(rootfs, 'noise'), crypto.randomBytes(4 << 20));
    const tar = path.join(work, 'big.tar');
    assert.equal(spawnSync('tar', ['-cf', tar, '-C', rootfs, '.']).status, 0);
    const img = `${berthReg}/flaky/big:v1`;
    ok(berth(['import', tar, img]), 'import');
    ok(berth(['push', img]), 'push');
    ok(berth(['rmi', img]), 'rmi');
    const blobs = blobCount();

    const once = await freePort();
    const p1 = await spawnServer(process.execPath, ['-e', FLAKY_PROXY, `http://${berthReg}`, String(once), '1000000', '1'], once, path.join(work, 'proxy1.log'));
    const retried = berth(['pull', `${p1}/flaky/big:v1`]);
    ok(retried, 'pull through a registry that broke once');
    assert.match(retried.stdout, /Retrying in 1 second/);
    ok(berth(['rmi', `${p1}/flaky/big:v1`]), 'rmi');
    assert.equal(blobCount(), blobs);

    const always = await freePort();
    const p2 = await spawnServer(process.execPath, ['-e', FLAKY_PROXY, `http://${berthReg}`, String(always), '1000000', '99'], always, path.join(work, 'proxy2.log'));
    const failed = berth(['pull', `${p2}/flaky/big:v1`]);
    assert.equal(failed.status, 1);
    assert.ok(failed.stderr.trim().length > 0);
    assert.equal(berth(['image', 'inspect', `${p2}/flaky/big:v1`]).status, 1, 'no image after a failed pull');
    assert.equal(blobCount(), blobs, 'no blob left behind');
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'image/content/ingest')), []);
    assert.deepEqual(fs.readdirSync(path.join(d.dataRoot, 'image/layers')).filter((n) => n.startsWith('.tmp-')), []);
  });
});
