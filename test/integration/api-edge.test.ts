/**
 * The API edge against a real berthd: capped and typed JSON bodies, the browser guard (Origin, Host, content type),
 * TCP with mutual TLS through the docker CLI and the berth CLI, refusals of unsafe listeners, and failing closed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Readable } from 'node:stream';
import { BERTH, BERTHD, TestDaemon } from '../helpers/daemon';
import { encodeFrame, FrameParser, OP } from '../../src/api/websocket';
import { freePort } from '../helpers/ports';

const extra: string[] = [];
const d = new TestDaemon('edge', extra);
const certs = path.join(d.dataRoot, 'certs');
let tlsPort = 0;
let plainPort = 0;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCerts(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth test CA');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']]) {
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext + '\n');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}-cert.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  // the client files under docker's names, for DOCKER_CERT_PATH
  fs.mkdirSync(path.join(dir, 'client'));
  fs.copyFileSync(path.join(dir, 'ca.pem'), path.join(dir, 'client/ca.pem'));
  fs.copyFileSync(path.join(dir, 'client-cert.pem'), path.join(dir, 'client/cert.pem'));
  fs.copyFileSync(path.join(dir, 'client-key.pem'), path.join(dir, 'client/key.pem'));
}


before(async () => {
  makeCerts(certs);
  tlsPort = await freePort();
  plainPort = await freePort();
  // a second daemon cannot share the TLS flags with a plain listener, so this one serves TLS; plain TCP is tried below
  extra.push('-H', `unix://${d.socket}`, '-H', `tcp://127.0.0.1:${tlsPort}`, '--tlsverify',
    '--tlscacert', path.join(certs, 'ca.pem'), '--tlscert', path.join(certs, 'server-cert.pem'), '--tlskey', path.join(certs, 'server-key.pem'));
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

interface Reply {
  status: number;
  body: string;
}

/** One request over the daemon's unix socket. */
function call(method: string, urlPath: string, opts: { body?: string | Buffer | Readable; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method, path: urlPath, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

const json = { 'Content-Type': 'application/json' };
const message = (r: Reply): string => (JSON.parse(r.body) as { message: string }).message;

/** Peak resident memory of the berthd node process (VmHWM, kB). */
function daemonPeakKb(): number {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmd.includes(d.dataRoot) || !cmd.includes('daemon/main.js')) continue;
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+[RS]/m.test(status) && !cmd.startsWith('unshare')) return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1]);
  }
  throw new Error('berthd process not found');
}

describe('limits on what clients send', () => {
  it('an over-large JSON body is a 413 naming the limit, and the daemon does not hold it in memory', async () => {
    const before = daemonPeakKb();
    let sent = 0;
    const chunk = Buffer.alloc(1 << 20, 0x20); // whitespace: valid JSON padding, so only the size is wrong
    const body = new Readable({
      read() {
        if (sent === 0) this.push('{"Image":"busybox","Cmd":["true"]');
        if (sent >= 200) return void this.push(null);
        sent++;
        this.push(chunk);
      },
    });
    const r = await call('POST', '/containers/create', { body, headers: json }).catch((e: Error) => ({ status: -1, body: e.message }));
    assert.equal(r.status, 413, r.body);
    assert.match(message(r as Reply), /request body too large: the limit is 16777216 bytes/);
    const grown = daemonPeakKb() - before;
    assert.ok(grown < 64 * 1024, `berthd's peak RSS grew by ${grown} kB for a 200 MiB body`);
    // and a Content-Length that announces too much is refused before any of it is read
    const big = await call('POST', '/containers/create', { headers: { ...json, 'Content-Length': String(1 << 30) }, body: '' }).catch(() => undefined);
    if (big) assert.equal(big.status, 413);
  });

  it('wrong JSON types are a 400 naming the field, never a 500', async () => {
    const cases: [object, RegExp][] = [
      [{ Image: 'busybox', Cmd: 5 }, /cannot unmarshal number .*field Cmd\)/],
      [{ Image: 'busybox', HostConfig: 'x' }, /cannot unmarshal string .*field HostConfig\)/],
      [{ Image: 'busybox', Env: [1] }, /cannot unmarshal number into Go value of type string \(field Env\[0\]\)/],
      [{ Image: 'busybox', HostConfig: { Binds: 'x' } }, /field HostConfig\.Binds\)/],
      [{ Image: 'busybox', HostConfig: { Memory: '1g' } }, /field HostConfig\.Memory\)/],
      [{ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 80 }] } } }, /field HostConfig\.PortBindings\.80\/tcp\[0\]\.HostPort\)/],
      [{ Image: 5 }, /field Image\)/],
      [{ Image: 'busybox', Labels: { a: 1 } }, /field Labels\.a\)/],
    ];
    for (const [body, want] of cases) {
      const r = await call('POST', '/containers/create', { body: JSON.stringify(body), headers: json });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(message(r), want);
    }
    for (const [p, body] of [['/volumes/create', { Name: 5 }], ['/networks/create', { Name: 'n', Labels: [] }], ['/containers/nope/exec', { Cmd: 'ls' }]] as const) {
      const r = await call('POST', p, { body: JSON.stringify(body), headers: json });
      assert.equal(r.status, 400, `${p}: ${r.body}`);
    }
    assert.equal((await call('POST', '/containers/create', { body: '{"Image":', headers: json })).status, 400);
    assert.equal((await call('POST', '/containers/create', { body: '[1]', headers: json })).status, 400);
    // docker's StrSlice: a string Cmd is a one-element command
    const ok = await call('POST', '/containers/create?name=strslice', { body: JSON.stringify({ Image: 'busybox', Cmd: 'true' }), headers: json });
    assert.equal(ok.status, 201, ok.body);
    assert.deepEqual(JSON.parse((await call('GET', '/containers/strslice/json')).body).Config.Cmd, ['true']);
    await call('DELETE', '/containers/strslice');
  });

  it('bad query values are a 400; a null filter is no filter, as in Go', async () => {
    assert.equal(d.berth(['create', '--name', 'qparams', 'busybox', 'true']).status, 0);
    after(() => void d.berth(['rm', '-f', 'qparams']));
    assert.equal((await call('GET', '/containers/json?filters=null')).status, 200);
    for (const q of ['/containers/json?filters=notjson', '/containers/json?filters=5', '/containers/json?filters=%7B%22name%22%3A%5B1%5D%7D', '/images/json?filters=%5B%5D',
      '/containers/json?limit=x', '/containers/qparams/stop?t=abc', '/containers/qparams/logs?stdout=1&tail=x', '/containers/qparams/restart?t=1.5']) {
      const method = /\/(stop|restart)/.test(q) ? 'POST' : 'GET';
      const r = await call(method, q);
      assert.equal(r.status, 400, `${q}: ${r.body}`);
    }
  });
});

describe('browsers', () => {
  it('a JSON endpoint refuses a body that is not sent as application/json (a CSRF simple request)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await call('POST', '/containers/create', { body: JSON.stringify({ Image: 'busybox' }), headers: { 'Content-Type': type } });
      assert.equal(r.status, 403, `${type}: ${r.body}`);
      assert.match(message(r), /Content-Type application\/json/);
    }
    const r = await call('POST', '/containers/create', { body: JSON.stringify({ Image: 'busybox' }) });
    assert.equal(r.status, 403, r.body);
    assert.equal((await call('GET', '/containers/json')).status, 200);
  });

  it('a request with an Origin header is refused, websocket attach included', async () => {
    const r = await call('GET', '/containers/json', { headers: { Origin: 'http://evil.example' } });
    assert.equal(r.status, 403);
    assert.match(message(r), /requests from web pages/);
    assert.equal(d.berth(['run', '-d', '--name', 'wsorigin', 'busybox', 'sleep', '30']).status, 0);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({
          socketPath: d.socket,
          path: '/containers/wsorigin/attach/ws?stream=1&stdout=1',
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13', Origin: 'http://evil.example' },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 403);
    } finally {
      d.berth(['rm', '-f', 'wsorigin']);
    }
  });

  it('the unix socket answers any Host (docker, api.moby.localhost, localhost)', async () => {
    for (const host of ['docker', 'api.moby.localhost', 'localhost', 'anything.example']) {
      assert.equal((await call('GET', '/_ping', { headers: { Host: host } })).status, 200, host);
    }
  });

  it('a plain loopback TCP listener (--tls=false) answers only loopback Host names (DNS rebinding)', async () => {
    const plainArgs: string[] = [];
    const p = new TestDaemon('edgeplain', plainArgs);
    plainArgs.push('-H', `unix://${p.socket}`, '-H', `tcp://127.0.0.1:${plainPort}`, '--tls=false');
    try {
      await p.start();
      const get = (host: string): Promise<Reply> =>
        new Promise((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: plainPort, path: '/_ping', headers: { Host: host } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          }).on('error', reject);
        });
      for (const ok of [`127.0.0.1:${plainPort}`, `localhost:${plainPort}`, 'localhost', '[::1]:1']) assert.equal((await get(ok)).status, 200, ok);
      const bad = await get(`rebound.example:${plainPort}`);
      assert.equal(bad.status, 403);
      assert.match(message(bad), /Host "rebound\.example:\d+" is not an address of this listener/);
      // real clients over plain TCP: the docker CLI sends the listener's address as Host
      const r = spawnSync('docker', ['-H', `tcp://127.0.0.1:${plainPort}`, 'version', '--format', '{{.Server.APIVersion}}'], { env: { ...process.env, DOCKER_HOST: '' } });
      assert.equal(r.stdout.toString().trim(), '1.43', r.stderr.toString());
    } finally {
      await p.stop();
    }
  });
});

describe('TCP with mutual TLS', () => {
  const client = path.join(certs, 'client');
  const dockerTls = (args: string[]) =>
    spawnSync('docker', ['--tlsverify', '--tlscacert', path.join(client, 'ca.pem'), '--tlscert', path.join(client, 'cert.pem'), '--tlskey', path.join(client, 'key.pem'),
      '-H', `tcp://127.0.0.1:${tlsPort}`, ...args], { env: { ...process.env, DOCKER_HOST: '' }, timeout: 60_000 });

  it('the docker CLI with a client certificate works: ps, run with output', () => {
    const ps = dockerTls(['ps', '-a', '--format', '{{.Names}}']);
    assert.equal(ps.status, 0, ps.stderr.toString());
    const run = dockerTls(['run', '--rm', 'busybox', 'echo', 'over tls']);
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.toString(), 'over tls\n');
  });

  it('a client without a certificate is refused, with TLS or plain HTTP', async () => {
    const noCert = spawnSync('docker', ['--tls', '-H', `tcp://127.0.0.1:${tlsPort}`, 'ps'], { env: { ...process.env, DOCKER_HOST: '', DOCKER_CERT_PATH: '/nonexistent' }, timeout: 30_000 });
    assert.notEqual(noCert.status, 0);
    const handshake = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, ca: fs.readFileSync(path.join(certs, 'ca.pem')) }, () => {
        s.write('GET /_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      });
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('error', (e) => resolve(`error: ${e.message}`));
      s.on('close', () => resolve(got));
    });
    assert.doesNotMatch(handshake, /200 OK/, handshake);
    const plain = spawnSync('docker', ['-H', `tcp://127.0.0.1:${tlsPort}`, 'ps'], { env: { ...process.env, DOCKER_HOST: '' }, timeout: 30_000 });
    assert.notEqual(plain.status, 0);
  });

  it('the berth CLI speaks tcp:// with TLS from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, and from the flags', () => {
    const env = { ...process.env, DOCKER_HOST: `tcp://127.0.0.1:${tlsPort}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: client };
    const run = spawnSync(BERTH, ['run', '--rm', 'busybox', 'echo', 'berth over tls'], { env, timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr.toString());
    assert.equal(run.stdout.toString(), 'berth over tls\n');
    const flags = spawnSync(BERTH, ['--tlsverify', '--tlscacert', path.join(certs, 'ca.pem'), '--tlscert', path.join(certs, 'client-cert.pem'),
      '--tlskey', path.join(certs, 'client-key.pem'), '-H', `tcp://127.0.0.1:${tlsPort}`, 'images', '--format', '{{.Repository}}'], { env: { ...process.env, DOCKER_HOST: '' }, timeout: 30_000 });
    assert.equal(flags.status, 0, flags.stderr.toString());
    assert.match(flags.stdout.toString(), /^busybox$/m);
    const noCert = spawnSync(BERTH, ['-H', `tcp://127.0.0.1:${tlsPort}`, '--tls', 'ps'], { env: { ...process.env, DOCKER_HOST: '', DOCKER_CERT_PATH: '/nonexistent' }, timeout: 30_000 });
    assert.notEqual(noCert.status, 0, noCert.stdout.toString());
  });
});

describe('unsafe listeners are refused before anything starts', () => {
  const tryStart = (args: string[]) => {
    const root = fs.mkdtempSync('/var/tmp/berth-test-edge-refuse-');
    try {
      return spawnSync(BERTHD, ['--data-root', root, '--exec-root', path.join(root, 'run'), ...args], { timeout: 30_000 });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  };

  it('tcp://0.0.0.0 without TLS, even with --tls=false', () => {
    for (const extraFlags of [[], ['--tls=false']]) {
      const r = tryStart(['-H', 'tcp://0.0.0.0:2375', ...extraFlags]);
      assert.equal(r.status, 1, r.stderr.toString());
      assert.match(r.stderr.toString(), /refusing to listen on tcp:\/\/0\.0\.0\.0:2375 without TLS/);
    }
  });

  it('loopback TCP without TLS and without --tls=false', () => {
    const r = tryStart(['-H', 'tcp://127.0.0.1:2375']);
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), /--tls=false on a loopback address/);
  });

  it('--tlsverify with a missing certificate file', () => {
    const r = tryStart(['-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscacert', '/nonexistent/ca.pem']);
    assert.equal(r.status, 1);
    assert.match(r.stderr.toString(), /could not read TLS/);
  });
});

describe('fail closed', () => {
  it('an uncaught exception stops berthd non-zero; the container keeps running and the next start reconciles it', { timeout: 120_000 }, async () => {
    assert.equal(d.berth(['run', '-d', '--name', 'survivor', 'busybox', 'sleep', '300']).status, 0);
    const pid = Number(d.berth(['inspect', '-f', '{{.State.Pid}}', 'survivor']).stdout.trim());
    assert.ok(pid > 0);
    const exit = d.exited();
    await throwInDaemon();
    const code = await exit;
    assert.notEqual(code, 0);
    assert.match(d.log(), /uncaught exception: exiting so that the next start reconciles/);
    assert.ok(fs.existsSync(`/proc/${pid}`), 'the container process survives the daemon');
    await d.start();
    const state = d.berth(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'survivor']);
    assert.equal(state.stdout.trim(), `running ${pid}`, state.stderr);
    assert.equal(d.berth(['exec', 'survivor', 'echo', 'still here']).stdout, 'still here\n');
    d.berth(['rm', '-f', 'survivor']);
  });
});

/**
 * A real uncaught exception inside the running daemon, without a test hook in its code: Node's inspector (SIGUSR1,
 * loopback only) evaluates a throw on the daemon's event loop.
 */
async function throwInDaemon(): Promise<void> {
  const pid = daemonPid();
  process.kill(pid, 'SIGUSR1'); // opens the inspector on 127.0.0.1:9229
  const target = await inspectorTarget();
  const u = new URL(target);
  await new Promise<void>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'), 'Sec-WebSocket-Version': '13' } });
    req.on('upgrade', (_res, socket) => {
      // the exit waits for a debugger to detach: hang up once the evaluation has answered
      const parser = new FrameParser();
      socket.on('data', (c: Buffer) => {
        if (parser.feed(c).some((f) => f.payload.toString().includes('"id":1'))) socket.destroy();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      // another process could hold 9229: only our daemon (its pid) throws
      const expression = `process.pid === ${pid} && setTimeout(() => { throw new Error('provoked by api-edge.test') }, 10)`;
      socket.write(encodeFrame(OP.text, Buffer.from(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } })), randomBytes(4)));
    });
    req.on('response', (res) => reject(new Error(`inspector answered ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

function daemonPid(): number {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(d.dataRoot) && cmd.includes('daemon/main.js') && !cmd.startsWith('unshare')) return Number(pid);
    } catch {
      // gone
    }
  }
  throw new Error('berthd process not found');
}

async function inspectorTarget(): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const list = await new Promise<string | undefined>((resolve) => {
      http.get({ host: '127.0.0.1', port: 9229, path: '/json/list' }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(s));
      }).on('error', () => resolve(undefined));
    });
    if (list) return (JSON.parse(list) as { webSocketDebuggerUrl: string }[])[0].webSocketDebuggerUrl;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the inspector did not open');
}
