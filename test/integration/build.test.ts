/** Image builds through berthd with the berth CLI and the real docker CLI (legacy builder protocol). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { berthAsync, writeContext } from '../helpers/build';
import { TestDaemon, type RunResult } from '../helpers/daemon';

const d = new TestDaemon('build');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-build-test-'));

before(async () => {
  await d.start();
  d.importBusybox();
});
after(async () => {
  await d.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const context = (name: string, files: Record<string, string>): string => writeContext(path.join(tmp, name), files);

const asyncBerth = (args: string[]): Promise<RunResult> => berthAsync(args, d.env);

const imageId = (out: string): string => {
  const m = /Successfully built ([0-9a-f]{12})/.exec(out);
  assert.ok(m, `no "Successfully built" in:\n${out}`);
  return m[1];
};

const MULTI = `# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS build
ARG GREETING=hello
WORKDIR /src
COPY app/ ./
RUN echo "$GREETING from \${GREETING:+build}" > out.txt && cat main.txt >> out.txt
RUN <<EOF
set -e
echo heredoc > /src/heredoc.txt
EOF

FROM busybox
ENV APP_HOME=/app MODE=prod
WORKDIR $APP_HOME
COPY --from=build /src/out.txt /src/heredoc.txt ./
COPY <<EOF /app/inline.txt
mode is $MODE
EOF
USER nobody
EXPOSE 8080
LABEL org.example.name=demo
CMD ["sh", "-c", "cat out.txt heredoc.txt inline.txt; id -u; pwd"]
`;

describe('berth build', () => {
  it('POST /session refuses a body (a huge Content-Length is not buffered), another upgrade and a missing id with 400', async () => {
    const net = await import('node:net');
    const ask = (head: string, body = ''): Promise<string> => new Promise((resolve, reject) => {
      const c = net.connect(d.socket, () => c.write(head + body));
      let got = '';
      c.on('data', (b: Buffer) => (got += b.toString()));
      c.on('end', () => resolve(got));
      c.on('error', reject);
      setTimeout(() => (c.destroy(), resolve(got)), 5000);
    });
    const base = 'POST /session HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n';
    const huge = await ask(`${base}Upgrade: h2c\r\nX-Docker-Expose-Session-Uuid: big\r\nContent-Length: 10000000000\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 400 [^]*session: the request must not have a body/);
    const chunked = await ask(`${base}Upgrade: h2c\r\nX-Docker-Expose-Session-Uuid: ch\r\nTransfer-Encoding: chunked\r\n\r\n`, '5\r\nhello\r\n0\r\n\r\n');
    assert.match(chunked, /^HTTP\/1\.1 400 [^]*session: the request must not have a body/);
    assert.match(await ask(`${base}Upgrade: tcp\r\nX-Docker-Expose-Session-Uuid: t\r\n\r\n`), /^HTTP\/1\.1 400 [^]*must upgrade to h2c/);
    assert.match(await ask(`${base}Upgrade: h2c\r\n\r\n`), /^HTTP\/1\.1 400 [^]*X-Docker-Expose-Session-Uuid is required/);
  });

  it('multi-stage build with RUN, COPY --from, ARG/ENV/WORKDIR/USER/CMD, heredocs, .dockerignore; the image runs', () => {
    const dir = context('multi', {
      Dockerfile: MULTI, 'app/main.txt': 'main\n', 'app/secret.key': 'nope', '.dockerignore': 'app/*.key\n',
    });
    const r = d.berth(['build', '-t', 'multi:1', '-t', 'multi:extra', '--build-arg', 'GREETING=hi', dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/\d+ : FROM \$BASE AS build/);
    assert.match(r.stdout, / ---> Running in [0-9a-f]{12}\nRemoving intermediate container [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully tagged multi:1\nSuccessfully tagged multi:extra\n/);
    const run = d.berth(['run', '--rm', 'multi:1']);
    assert.equal(run.stdout, 'hi from build\nmain\nheredoc\nmode is prod\n65534\n/app\n', run.stderr);
    const ls = d.berth(['run', '--rm', 'multi:1', 'ls', '/app']);
    assert.doesNotMatch(ls.stdout, /secret/);
    const cfg = JSON.parse(d.berth(['image', 'inspect', 'multi:1', '--format', '{{json .Config}}']).stdout) as Record<string, unknown>;
    assert.equal(cfg.User, 'nobody');
    assert.equal(cfg.WorkingDir, '/app');
    assert.deepEqual(cfg.ExposedPorts, { '8080/tcp': {} });
    assert.deepEqual(cfg.Labels, { 'org.example.name': 'demo' });
    assert.ok((cfg.Env as string[]).includes('MODE=prod'));
    assert.ok(!(cfg.Env as string[]).some((e) => e.startsWith('GREETING')), 'build args are not kept in the image');
    assert.equal(d.berth(['ps', '-aq']).stdout, '', 'intermediate containers removed');
  });

  it('second build comes from the cache; touch keeps it, a content change invalidates COPY and later steps', () => {
    const dockerfile = 'FROM busybox\nWORKDIR /app\nRUN echo base > /base\nCOPY . .\nRUN cat data.txt > /copied\nCMD ["cat", "/copied"]\n';
    const dir = context('cache', { Dockerfile: dockerfile, 'data.txt': 'one\n' });
    const first = d.berth(['build', '-t', 'cached:1', dir]);
    assert.equal(first.status, 0, first.stderr + first.stdout);
    const second = d.berth(['build', '-t', 'cached:1', dir]);
    assert.equal(second.status, 0, second.stderr);
    assert.equal((second.stdout.match(/ ---> Using cache/g) ?? []).length, 5, second.stdout);
    assert.equal(imageId(second.stdout), imageId(first.stdout));

    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(dir, 'data.txt'), later, later);
    const touched = d.berth(['build', dir]);
    assert.equal(imageId(touched.stdout), imageId(first.stdout), 'touch alone keeps the cache');

    fs.writeFileSync(path.join(dir, 'data.txt'), 'two\n');
    const changed = d.berth(['build', '-t', 'cached:2', dir]);
    assert.equal(changed.status, 0, changed.stderr);
    const steps = changed.stdout.split(/^Step /m).slice(1);
    assert.match(steps[2], /Using cache/, 'RUN before the COPY still cached');
    assert.doesNotMatch(steps[3], /Using cache/, 'COPY re-run');
    assert.doesNotMatch(steps[4], /Using cache/, 'RUN after it re-run');
    assert.equal(d.berth(['run', '--rm', 'cached:2']).stdout, 'two\n');
    const nocache = d.berth(['build', '--no-cache', dir]);
    assert.doesNotMatch(nocache.stdout, /Using cache/);
  });

  it('a failing RUN reports the command and exits with its code', () => {
    const dir = context('fail', { Dockerfile: 'FROM busybox\nRUN echo before; echo oops >&2; exit 7\n' });
    const r = d.berth(['build', dir]);
    assert.equal(r.status, 7);
    assert.match(r.stdout, /before\n/);
    assert.match(r.stdout, /\u001b\[91moops\n\u001b\[0m/, 'stderr in red as docker shows it');
    assert.match(r.stderr, /The command '\/bin\/sh -c echo before; echo oops >&2; exit 7' returned a non-zero code: 7/);
    const forced = d.berth(['build', '--force-rm', dir]);
    assert.equal(forced.status, 7);
    assert.equal(d.berth(['ps', '-aq', '--filter', 'status=exited']).stdout, '', 'no container of a failed step is left');
  });

  it('--progress=plain prints BuildKit\'s plain progress: numbered steps, their output, DONE, CACHED, ERROR', () => {
    const dir = context('plain', { Dockerfile: 'FROM busybox\nENV A=1\nRUN echo one && echo two\nCOPY Dockerfile /d\n' });
    const first = d.berth(['build', '--progress=plain', '-t', 'plainprog', dir]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^#1 \[1\/3\] FROM busybox\n#1 DONE \d+\.\ds\n\n#2 \[2\/3\] RUN echo one && echo two\n#2 \d+\.\d{3} one\n#2 \d+\.\d{3} two\n#2 DONE \d+\.\ds\n\n#3 \[3\/3\] COPY Dockerfile \/d\n#3 DONE \d+\.\ds\n\n#4 exporting to image\n#4 DONE/);
    assert.doesNotMatch(first.stdout, /Step 1\/|Sending build context|Successfully built|ENV A=1/);
    const again = d.berth(['build', '--progress=plain', '-t', 'plainprog', dir]);
    assert.match(again.stdout, /#2 \[2\/3\] RUN echo one && echo two\n#2 CACHED\n/);
    const failing = context('plainfail', { Dockerfile: 'FROM busybox\nRUN echo before && exit 3\n' });
    const bad = d.berth(['build', '--progress=plain', failing]);
    assert.equal(bad.status, 3);
    assert.match(bad.stdout, /#2 \[2\/2\] RUN echo before && exit 3\n#2 \d+\.\d{3} before\n#2 ERROR: The command '\/bin\/sh -c echo before && exit 3' returned a non-zero code: 3\n/);
    d.berth(['rmi', 'plainprog']);
  });

  it('Dockerfile errors name the file, line and instruction; missing images and sources are named', () => {
    const dir = context('bad', { 'Dockerfile.dev': 'FROM busybox\nRUN true\nRUNN nope\n' });
    const r = d.berth(['build', '-f', path.join(dir, 'Dockerfile.dev'), dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Dockerfile\.dev:3: unknown instruction: RUNN\n +3 \| RUNN nope/);
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM nosuch/image:1\n');
    const missing = d.berth(['build', dir]).stderr;
    assert.match(missing, /FROM nosuch\/image:1: image not found locally/);
    assert.match(missing, /berth image bootstrap/, 'says how to make a base image');
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox\nCOPY nothere.txt /\n');
    assert.match(d.berth(['build', dir]).stderr, /Dockerfile:2: COPY failed: file not found in build context .*nothere\.txt/);
  });

  it('SOURCE_DATE_EPOCH makes the image ID reproducible (no cache, berth and docker CLI)', () => {
    const dir = context('repro', { Dockerfile: 'FROM busybox\nCOPY f /f\nRUN echo x > /x && mkdir -p /d && touch /d/new\nCMD ["cat", "/f"]\n', f: 'content\n' });
    const epoch = ['--build-arg', 'SOURCE_DATE_EPOCH=1700000000'];
    const a = d.berth(['build', '-q', '--no-cache', ...epoch, dir]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const b = d.berth(['build', '-q', '--no-cache', ...epoch, dir]);
    const c = d.docker(['build', '-q', '--no-cache', ...epoch, dir]);
    assert.equal(b.stdout, a.stdout);
    assert.equal(c.stdout, a.stdout);
    const without = d.berth(['build', '-q', '--no-cache', dir]);
    assert.notEqual(without.stdout, a.stdout, 'without the epoch, times differ');
    const created = d.berth(['image', 'inspect', a.stdout.trim(), '--format', '{{.Created}}']).stdout.trim();
    assert.equal(created, '2023-11-14T22:13:20.000Z');
  });

  it('ADD: a local tar archive is unpacked; a URL is fetched from a loopback server; unreachable is a clear error', async () => {
    const dir = context('add', {});
    const src = path.join(tmp, 'add-src');
    fs.mkdirSync(path.join(src, 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(src, 'pkg/readme'), 'from tar\n');
    await new Promise<void>((resolve, reject) => execFile('tar', ['-czf', path.join(dir, 'pkg.tar.gz'), '-C', src, 'pkg'], (e) => (e ? reject(e) : resolve())));
    const server = http.createServer((req, res) => {
      if (req.url === '/files/hello.txt') res.end('from url\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD pkg.tar.gz /opt/\nADD http://127.0.0.1:${port}/files/hello.txt /data/\nCMD ["sh", "-c", "cat /opt/pkg/readme /data/hello.txt; stat -c %a /data/hello.txt"]\n`);
      const r = await asyncBerth(['build', '-t', 'added:1', dir]);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.equal(d.berth(['run', '--rm', 'added:1']).stdout, 'from tar\nfrom url\n600\n');
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD http://127.0.0.1:${port}/missing /x\n`);
      const missing = await asyncBerth(['build', dir]);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /ADD failed: failed to GET http:\/\/127\.0\.0\.1:\d+\/missing with status 404/);
    } finally {
      server.close();
    }
    // the server is closed now: its port refuses connections
    fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM busybox\nADD http://127.0.0.1:${port}/nothing /x\n`);
    const refused = d.berth(['build', dir]);
    assert.match(refused.stderr, /ADD failed: cannot fetch http:\/\/127\.0\.0\.1:\d+\/nothing: ECONNREFUSED/);
  });

  it('--target, --label, --iidfile, Dockerfile on stdin', () => {
    const dir = context('target', { Dockerfile: 'FROM busybox AS one\nRUN echo one > /which\nFROM busybox AS two\nRUN echo two > /which\nRUN false\n' });
    const iid = path.join(tmp, 'iid');
    const r = d.berth(['build', '--target', 'one', '--label', 'team=core', '--iidfile', iid, '-t', 'target:one', dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout, /RUN false/, 'unused stage skipped');
    assert.match(fs.readFileSync(iid, 'utf8'), /^sha256:[0-9a-f]{64}$/);
    assert.equal(d.berth(['run', '--rm', 'target:one', 'cat', '/which']).stdout, 'one\n');
    assert.equal(d.berth(['image', 'inspect', 'target:one', '--format', '{{index .Config.Labels "team"}}']).stdout.trim(), 'core');
    const stdin = d.berth(['build', '-t', 'stdin:1', '-'], { input: 'FROM busybox\nCMD ["echo", "from stdin"]\n' });
    assert.equal(stdin.status, 0, stdin.stderr);
    assert.equal(d.berth(['run', '--rm', 'stdin:1']).stdout, 'from stdin\n');
  });
});

describe('docker build (CLI 28, legacy builder) against berthd', () => {
  it('builds with -f outside the context, several tags and build args; the image runs', () => {
    const dir = context('docker', { 'app/main.txt': 'main\n', 'app/secret.key': 'nope', '.dockerignore': 'app/*.key\n' });
    const dockerfile = path.join(tmp, 'Dockerfile.outside');
    fs.writeFileSync(dockerfile, MULTI);
    const r = d.docker(['build', '-f', dockerfile, '-t', 'dmulti:1', '-t', 'dmulti:2', '--build-arg', 'GREETING=hey', dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged dmulti:1\nSuccessfully tagged dmulti:2\n/);
    const run = d.docker(['run', '--rm', 'dmulti:2']);
    assert.equal(run.stdout, 'hey from build\nmain\nheredoc\nmode is prod\n65534\n/app\n', run.stderr);
    const again = d.docker(['build', '-f', dockerfile, '--build-arg', 'GREETING=hey', dir]);
    assert.match(again.stdout, / ---> Using cache/);
    assert.equal(imageId(again.stdout), imageId(r.stdout));
  });

  it('a failing RUN exits with its code and leaves no container behind (docker leaves one)', () => {
    const dir = context('dfail', { Dockerfile: 'FROM busybox\nRUN exit 5\n' });
    const r = d.docker(['build', dir]);
    assert.equal(r.status, 5, r.stderr);
    assert.match(r.stderr + r.stdout, /The command '\/bin\/sh -c exit 5' returned a non-zero code: 5/);
    assert.doesNotMatch(d.docker(['ps', '-a', '--format', '{{.Status}}']).stdout, /Exited \(5\)/);
  });

  it('a Dockerfile error is an error response naming file and line', () => {
    const dir = context('dbad', { Dockerfile: 'FROM busybox\nFOO bar\n' });
    const r = d.docker(['build', dir]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Error response from daemon: Dockerfile:2: unknown instruction: FOO/);
  });
});
