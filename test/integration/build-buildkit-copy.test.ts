/**
 * BuildKit's COPY/ADD flags, platform args and outputs in Berth's one builder (berth build, docker CLI). With
 * BERTH_COMPAT_DOCKER_HOST the compatible checks (COPY --chown, --output made by the berth CLI) run against Docker.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { buildHarness } from '../helpers/build';

const { e, tmp, TAG, BERTH_ONLY, berth, asyncBerth, context, ok, assertNothingLeft, lifecycle } = buildHarness('bkc');

lifecycle(['cache', 'secret', 'bind', 'out']);

describe('COPY flags, platform args', () => {
  it('COPY --chown by name resolved in the image (berth and docker CLI)', () => {
    const dir = context('chown', {
      Dockerfile: 'FROM busybox\nRUN echo crew:x:4321: >> /etc/group && echo app:x:1234:4321::/:/bin/sh >> /etc/passwd\nCOPY --chown=app:crew f.txt /f.txt\nRUN stat -c "%U %G %u %g" /f.txt\n',
      'f.txt': 'x\n',
    });
    for (const r of [berth(['build', '--no-cache', dir]), e.docker(['build', '--no-cache', dir])]) {
      ok(r, 'build');
      assert.match(r.stdout, /app crew 1234 4321/);
    }
  });

  it('COPY --parents (with a /./ pivot), --exclude, --chmod, --link', { skip: e.external ? "Docker's legacy builder has no --parents/--exclude/--chmod" : false }, () => {
    const dir = context('copyflags', {
      Dockerfile: `FROM busybox
COPY --parents a/b/one.txt a/c/ /p/
COPY --parents src/./pkg/x.go /q/
COPY --exclude=*.log --exclude=skip logs/ /logs/
COPY --chmod=0750 --link f.sh /f.sh
RUN find /p /q /logs -type f | sort; stat -c '%a' /f.sh
`,
      'a/b/one.txt': '1', 'a/b/two.txt': '2', 'a/c/three.txt': '3', 'src/pkg/x.go': 'go', 'logs/keep.txt': 'k', 'logs/x.log': 'l',
      'logs/skip/y.txt': 'y', 'logs/sub/z.log': 'z', 'f.sh': 'echo\n',
    });
    const r = ok(berth(['build', '--no-cache', dir]), 'build');
    // `*.log` matches at the top of the copied directory only (.dockerignore syntax; **/*.log would reach sub/)
    assert.match(r.stdout, /\/logs\/keep.txt\n\/logs\/sub\/z.log\n\/p\/a\/b\/one.txt\n\/p\/a\/c\/three.txt\n\/q\/pkg\/x.go\n750\n/);
  });

  it('BuildKit\'s automatic platform args (global in FROM, in a stage once declared)', { skip: BERTH_ONLY }, () => {
    const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
    const dir = context('args', {
      Dockerfile: `FROM busybox AS base-${arch}
FROM base-$TARGETARCH
ARG TARGETPLATFORM
ARG TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH
RUN echo "t=$TARGETPLATFORM/$TARGETOS/$TARGETARCH/$TARGETVARIANT b=$BUILDPLATFORM/$BUILDOS/$BUILDARCH"
`,
    });
    const r = ok(berth(['build', '--no-cache', dir]), 'build');
    assert.match(r.stdout, new RegExp(`t=linux/${arch}/linux/${arch}/ b=linux/${arch}/linux/${arch}\n`));
    assert.doesNotMatch(r.stdout, /were not consumed/);
    // another --platform: TARGETARCH follows it, so FROM names an image that is not here (build-platform.test.ts)
    const otherArch = arch === 'arm64' ? 'amd64' : 'arm64';
    const other = berth(['build', '--platform', `linux/${otherArch}`, dir]);
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, new RegExp(`Dockerfile:2: FROM base-${otherArch}: image not found locally`));
  });
});

describe('outputs', () => {
  const dockerfile = `FROM busybox AS build
RUN mkdir -p /out/bin && echo app > /out/bin/app && echo cfg > /out/app.conf
FROM scratch
COPY --from=build /out/ /
`;
  it('--output type=local writes exactly the final stage files; -o DIR, type=tar; --iidfile, --metadata-file', () => {
    const dir = context('out', { Dockerfile: dockerfile });
    const dest = path.join(tmp, 'dest');
    const iid = path.join(tmp, 'iid');
    const meta = path.join(tmp, 'meta.json');
    ok(berth(['build', '-t', `${TAG}-out`, '--output', `type=local,dest=${dest}`, '--iidfile', iid, '--metadata-file', meta, dir]), 'build -o local');
    const list = spawnSync('find', ['.', '-mindepth', '1'], { cwd: dest }).stdout.toString().split('\n').filter(Boolean).sort();
    assert.deepEqual(list, ['./app.conf', './bin', './bin/app']);
    assert.equal(fs.readFileSync(path.join(dest, 'bin/app'), 'utf8'), 'app\n');
    const id = fs.readFileSync(iid, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(JSON.parse(fs.readFileSync(meta, 'utf8')), { 'containerimage.config.digest': id, 'image.name': `${TAG}-out` });

    const short = path.join(tmp, 'short');
    ok(berth(['build', '-q', '-o', short, dir]), 'build -o DIR');
    assert.equal(fs.readFileSync(path.join(short, 'app.conf'), 'utf8'), 'cfg\n');
    const tarFile = path.join(tmp, 'out.tar');
    ok(berth(['build', '-q', '--output', `type=tar,dest=${tarFile}`, dir]), 'build -o tar');
    const names = spawnSync('tar', ['-tf', tarFile]).stdout.toString().split('\n').filter((n) => n && n !== './').sort();
    assert.deepEqual(names, ['./app.conf', './bin/', './bin/app']);
    const oci = path.join(tmp, 'oci.tar');
    ok(berth(['build', '-q', '-o', `type=oci,dest=${oci}`, dir]), 'build -o oci');
    assert.match(spawnSync('tar', ['-tf', oci]).stdout.toString(), e.external ? /manifest\.json/ : /^oci-layout$/m);
    const bad = berth(['build', '-o', 'type=ftp,dest=x', dir]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unsupported --output type "ftp"/);
  });

  it('--progress=quiet prints only the image ID', () => {
    const dir = context('out', { Dockerfile: dockerfile });
    const r = ok(berth(['build', '--progress=quiet', dir]), 'build');
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
  });
});

describe('ADD --checksum', { skip: e.external ? "Docker's legacy builder has no ADD --checksum" : false }, () => {
  let server: http.Server;
  let base = '';
  before(async () => {
    server = http.createServer((_req, res) => res.end('payload\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('a matching checksum adds the file; a mismatch is an error naming the line; nothing is left', async () => {
    const good = 'sha256:' + createHash('sha256').update('payload\n').digest('hex');
    const dir = context('checksum', { Dockerfile: `FROM busybox\nADD --checksum=${good} ${base}/f.txt /f.txt\nRUN cat /f.txt\n` });
    const r = await asyncBerth(['build', '--no-cache', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /payload/);
    const bad = context('checksum-bad', { Dockerfile: `FROM busybox\n\nADD --checksum=sha256:${'0'.repeat(64)} ${base}/f.txt /f.txt\n` });
    const b = await asyncBerth(['build', bad]);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /Dockerfile:3: ADD: checksum mismatch for .*f\.txt: expected sha256:0{64}, got sha256:[0-9a-f]{64}/);
    assertNothingLeft();
  });
});

describe('ADD of a git repository', { skip: e.external ? "Docker's legacy builder has no ADD <git URL>" : false }, () => {
  let server: http.Server;
  let base = '';
  const bare = path.join(tmp, 'repo.git');
  before(async () => {
    const work = path.join(tmp, 'repo-work');
    fs.mkdirSync(path.join(work, 'sub'), { recursive: true });
    const git = (...args: string[]): void => {
      const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: work });
      assert.equal(r.status, 0, r.stderr?.toString());
    };
    fs.writeFileSync(path.join(work, 'sub/v.txt'), 'one\n');
    fs.writeFileSync(path.join(work, 'top.txt'), 'top\n');
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-qm', 'one');
    git('tag', 'v1');
    fs.writeFileSync(path.join(work, 'sub/v.txt'), 'two\n');
    git('commit', '-qam', 'two');
    git('clone', '-q', '--bare', work, bare);
    spawnSync('git', ['update-server-info'], { cwd: bare });
    // git's dumb HTTP protocol: the bare repository's files as they are
    server = http.createServer((req, res) => {
      const file = path.join(tmp, path.posix.normalize(decodeURIComponent((req.url ?? '/').split('?')[0])));
      if (!file.startsWith(bare) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) return void res.writeHead(404).end();
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('checks out a ref and a subdirectory over loopback http and file://; .git only with --keep-git-dir', async () => {
    const dir = context('git', {
      Dockerfile: `FROM busybox
ADD ${base}/repo.git#v1:sub /v1/
ADD file://${bare} /head
ADD --keep-git-dir=true file://${bare}#main /kept
RUN cat /v1/v.txt /head/sub/v.txt /head/top.txt; test -e /head/.git || echo no-git; test -d /kept/.git && echo kept-git
`,
    });
    const r = await asyncBerth(['build', '--no-cache', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /one\ntwo\ntop\nno-git\nkept-git\n/);
  });

  it('a repository off this machine or a bad ref is refused naming the line; nothing is left', async () => {
    const far = context('git-far', { Dockerfile: 'FROM busybox\nADD https://example.com/repo.git /r\n' });
    const r = await asyncBerth(['build', far]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:2: ADD: git source https:\/\/example.com\/repo.git: only repositories on this machine/);
    const badRef = context('git-badref', { Dockerfile: `FROM busybox\nADD file://${bare}#nosuch /r\n` });
    const b = await asyncBerth(['build', badRef]);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /Dockerfile:2: ADD: failed to fetch git source file:\/\/.*#nosuch/);
    assertNothingLeft();
  });
});
