/**
 * Containers and exec as Docker 24 answers them, driven by the docker CLI and dockerode: commit of a stopped
 * container, kill signals and the exit status that follows, exec exit codes (126/127) and TTY output, list size and
 * filters, archive on a stopped container's volumes, log option validation, MacAddress. Written to pass against
 * Docker too: `BERTH_COMPAT_DOCKER_HOST=unix:///…` points them at another engine.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileEngine, TEST_LABEL } from '../helpers/engine';
import type { RunResult } from '../helpers/daemon';

const { e, docker } = fileEngine('ctrfid');


let seq = 0;
/** A fresh container name for this run (the tests can run twice, and against an engine with other containers). */
const uniq = (what: string): string => `ctrfid-${what}-${process.pid}-${++seq}`;

function ok(r: RunResult, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout.trim();
}

/** `docker run -d` with the test label; returns the container's name. */
function runDetached(args: string[], name = uniq('c')): string {
  ok(e.docker(['run', '-d', '--label', TEST_LABEL, '--name', name, ...args]), `run ${name}`);
  return name;
}

/** Read a dockerode stream to its end. */
function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('close', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

describe('commit', () => {
  it('commits an exited container (docker commit)', () => {
    const name = uniq('commit');
    const image = `${name}:v1`;
    ok(e.docker(['run', '--label', TEST_LABEL, '--name', name, 'busybox', 'sh', '-c', 'echo kept > /made']), 'run');
    try {
      ok(e.docker(['commit', name, image]), 'commit of an exited container');
      assert.equal(ok(e.docker(['run', '--rm', image, 'cat', '/made']), 'run the commit'), 'kept');
    } finally {
      e.docker(['rmi', image]);
    }
  });

  it('commits a created, never started container (dockerode)', async () => {
    const name = uniq('commit-created');
    const c = await docker.createContainer({ name, Image: 'busybox', Cmd: ['true'], Labels: { 'berth.test': 'compat' } });
    const repo = name;
    try {
      const r = (await c.commit({ repo, tag: 'v1' })) as { Id: string };
      assert.match(r.Id, /^sha256:[0-9a-f]{64}$/);
    } finally {
      e.docker(['rmi', `${repo}:v1`]);
    }
  });
});

describe('kill', () => {
  it('kills with SIGKILL by default: exit status 137', () => {
    const name = runDetached(['busybox', 'sleep', '1000']);
    ok(e.docker(['kill', name]), 'kill');
    assert.equal(ok(e.docker(['wait', name]), 'wait'), '137');
    assert.equal(ok(e.docker(['inspect', '-f', '{{.State.ExitCode}}', name]), 'inspect'), '137');
  });

  for (const sig of ['USR1', 'SIGUSR1', 'usr1', '10']) {
    it(`delivers a named signal (-s ${sig}): the trap's exit status follows`, () => {
      const name = runDetached(['busybox', 'sh', '-c', 'trap "exit 42" USR1; echo ready; while :; do sleep 0.1; done']);
      // before its trap is set, the shell is PID 1 without a handler: the kernel drops the signal and wait hangs
      for (let i = 0; i < 100 && !e.docker(['logs', name]).stdout.includes('ready'); i++) spawnSync('sleep', ['0.1']);
      ok(e.docker(['kill', '-s', sig, name]), 'kill -s');
      assert.equal(ok(e.docker(['wait', name]), 'wait'), '42');
    });
  }

  it('refuses an unknown signal with 400 "Invalid signal" and leaves the container running', () => {
    const name = runDetached(['busybox', 'sleep', '1000']);
    const r = e.docker(['kill', '-s', 'NOPE', name]);
    assert.equal(r.status, 1);
    // Docker 20.10 answers "Invalid signal: NOPE" unwrapped; Docker 24 parses in ContainerKill, wrapped as below
    if (e.external) assert.match(r.stderr, /Error response from daemon: .*invalid signal: NOPE/i);
    else assert.match(r.stderr, new RegExp(`Error response from daemon: Cannot kill container: ${name}: invalid signal: NOPE`));
    assert.equal(ok(e.docker(['inspect', '-f', '{{.State.Running}}', name]), 'inspect'), 'true');
  });

  it('refuses a stopped container with 409 "is not running"', async () => {
    const name = uniq('kill-stopped');
    ok(e.docker(['run', '--label', TEST_LABEL, '--name', name, 'busybox', 'true']), 'run');
    await assert.rejects(docker.getContainer(name).kill(), (err: { statusCode?: number; json?: { message?: string } }) => {
      assert.equal(err.statusCode, 409);
      assert.match(err.json?.message ?? '', /^Cannot kill container: .+: Container [0-9a-f]{64} is not running$/);
      return true;
    });
  });
});

describe('run: a first process that cannot start', () => {
  for (const [cmd, code] of [['no-such-command', 127], ['/no/such/file', 127], ['/etc/passwd', 126]] as const) {
    it(`docker run ${cmd} exits ${code}`, () => {
      const r = e.docker(['run', '--label', TEST_LABEL, '--name', uniq('run-fail'), 'busybox', cmd]);
      assert.equal(r.status, code, r.stderr);
      assert.match(r.stderr, code === 127 ? /executable file not found|no such file or directory/ : /permission denied/);
    });
  }
});

describe('exec', () => {
  let ctr: string;
  before(() => {
    ctr = runDetached(['busybox', 'sleep', '1000']);
  });

  // Docker 20.10 reports 126 for every exec that cannot start; Docker 24 127 for a missing command
  const docker24 = { skip: e.external ? 'Docker 20.10 exits 126 for a missing command' : false };

  it('exits 127 for a command that does not exist (docker exec)', docker24, () => {
    const r = e.docker(['exec', ctr, 'no-such-command']);
    assert.equal(r.status, 127, r.stderr);
    assert.match(r.stdout + r.stderr, /executable file not found in \$PATH/);
  });

  it('exits 126 for a file that exists but cannot run (docker exec)', () => {
    for (const [cmd, why] of [['/etc/passwd', 'permission denied'], ['/etc', 'is a directory: permission denied|permission denied']]) {
      const r = e.docker(['exec', ctr, cmd]);
      assert.equal(r.status, 126, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.match(r.stdout + r.stderr, new RegExp(`exec: "${cmd}": (${why})`));
    }
  });

  it('reports the exit code of a failing command (dockerode exec inspect)', async () => {
    const cases: [string[], number][] = [[['sh', '-c', 'exit 3'], 3], [['/etc/passwd'], 126]];
    if (!e.external) cases.push([['no-such-command'], 127]); // Docker 20.10: 126
    for (const [cmd, code] of cases) {
      const ex = await docker.getContainer(ctr).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
      await drain(await ex.start({ hijack: true, stdin: false }));
      const info = await ex.inspect();
      assert.equal(info.ExitCode, code, cmd.join(' '));
      assert.equal(info.Running, false);
    }
  });

  it('with Tty, sends stdout and stderr as one raw stream and the exit code (docker exec -t)', () => {
    const r = e.docker(['exec', '-t', ctr, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, 'out\r\nerr\r\n');
  });

  it('with Tty, the stream has no multiplexing headers (dockerode)', async () => {
    const ex = await docker.getContainer(ctr).exec({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'], Tty: true, AttachStdout: true, AttachStderr: true });
    const out = await drain(await ex.start({ hijack: true, stdin: false, Tty: true }));
    assert.equal(out.toString(), 'out\r\nerr\r\n');
    assert.equal((await ex.inspect()).ExitCode, 5);
  });
});

describe('list', () => {
  /** `docker ps` names (newest first) with the given flags, among containers named with `prefix`. */
  const names = (prefix: string, flags: string[]): string[] =>
    ok(e.docker(['ps', '--format', '{{.Names}}', '--filter', `name=^${prefix}`, ...flags]), `ps ${flags.join(' ')}`).split('\n').filter(Boolean);

  it('reports SizeRw and SizeRootFs with size=true (dockerode, docker ps -s)', async () => {
    const name = uniq('size');
    ok(e.docker(['run', '--label', TEST_LABEL, '--name', name, 'busybox', 'sh', '-c', 'head -c 300000 /dev/zero > /blob']), 'run');
    type Sized = { SizeRw?: number; SizeRootFs?: number };
    const [withSize] = (await docker.listContainers({ all: true, size: true, filters: { name: [`^${name}$`] } })) as Sized[];
    assert.ok(withSize.SizeRw !== undefined && withSize.SizeRw >= 300_000, `SizeRw ${withSize.SizeRw}`);
    assert.ok(withSize.SizeRootFs !== undefined && withSize.SizeRootFs > withSize.SizeRw, `SizeRootFs ${withSize.SizeRootFs}`);
    const [plain] = (await docker.listContainers({ all: true, filters: { name: [`^${name}$`] } })) as Sized[];
    assert.equal(plain.SizeRw, undefined);
    assert.match(ok(e.docker(['ps', '-a', '-s', '--filter', `name=^${name}$`, '--format', '{{.Size}}']), 'ps -s'), /^300kB \(virtual .+\)$/);
  });

  it('a status filter lists stopped containers without --all', () => {
    const prefix = uniq('status');
    ok(e.docker(['run', '--label', TEST_LABEL, '--name', `${prefix}-a`, 'busybox', 'true']), 'run');
    assert.deepEqual(names(prefix, ['--filter', 'status=exited']), [`${prefix}-a`]);
    assert.deepEqual(names(prefix, []), []);
  });

  it('filters by before and since (name or id)', () => {
    const prefix = uniq('order');
    for (const n of ['a', 'b', 'c']) ok(e.docker(['create', '--label', TEST_LABEL, '--name', `${prefix}-${n}`, 'busybox']), 'create');
    const idB = ok(e.docker(['inspect', '-f', '{{.Id}}', `${prefix}-b`]), 'inspect');
    assert.deepEqual(names(prefix, ['-a', '--filter', `since=${prefix}-a`]), [`${prefix}-c`, `${prefix}-b`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', `before=${prefix}-c`]), [`${prefix}-b`, `${prefix}-a`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', `since=${idB}`]), [`${prefix}-c`]);
    const r = e.docker(['ps', '-a', '--filter', 'since=no-such-container-here']);
    assert.equal(r.status, 1);
    // Docker 24 (Berth's API version) says "No such container: x"; Docker 20.10 "no such container x"
    assert.match(r.stderr, /no such container:? no-such-container-here/i);
  });

  it('filters by network, volume, expose and publish', () => {
    const prefix = uniq('facts');
    ok(e.docker(['create', '--label', TEST_LABEL, '--name', `${prefix}-none`, '--network', 'none', 'busybox']), 'create');
    runDetached(['--expose', '7001', '-p', '127.0.0.1::80', '-v', '/tmp:/hostdir', 'busybox', 'sleep', '1000'], `${prefix}-web`);
    const published = ok(e.docker(['port', `${prefix}-web`, '80/tcp']), 'port').split('\n')[0].split(':').pop()!;
    assert.deepEqual(names(prefix, ['-a', '--filter', 'network=none']), [`${prefix}-none`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'network=bridge']), [`${prefix}-web`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'volume=/hostdir']), [`${prefix}-web`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'volume=/tmp']), [`${prefix}-web`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'volume=/elsewhere']), []);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'expose=7000-7002']), [`${prefix}-web`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'expose=7005/tcp']), []);
    assert.deepEqual(names(prefix, ['-a', '--filter', `publish=${published}`]), [`${prefix}-web`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'publish=81']), []);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'is-task=false']), [`${prefix}-web`, `${prefix}-none`]);
    assert.deepEqual(names(prefix, ['-a', '--filter', 'is-task=true']), []);
  });

  it('refuses an unknown filter key and a bad exited value with 400', async () => {
    // dockerd answers a bad exited value with 500 "strconv.Atoi: …"; Berth never answers 500 for bad input (brief)
    const cases: [Record<string, string[]>, string][] = [[{ nope: ['x'] }, "invalid filter 'nope'"], ...(e.external ? [] : [[{ exited: ['x'] }, "invalid filter 'exited=x'"] as [Record<string, string[]>, string]])];
    for (const [filters, msg] of cases) {
      await assert.rejects(docker.listContainers({ all: true, filters }), (err: { statusCode?: number; json?: { message?: string } }) => {
        assert.equal(err.statusCode, 400);
        assert.match(err.json?.message ?? '', new RegExp(msg, 'i')); // 20.10 capitalizes "Invalid"
        return true;
      });
    }
  });
});

describe('archive on a stopped container', () => {
  it("reaches its volumes and bind mounts, as Docker mounts them for the copy (docker cp both ways)", () => {
    const name = uniq('cp-vol');
    const host = fs.mkdtempSync(path.join(os.tmpdir(), 'ctrfid-bind-'));
    try {
      fs.writeFileSync(path.join(host, 'from-host'), 'host side\n');
      ok(e.docker(['run', '--label', TEST_LABEL, '--name', name, '-v', '/data', '-v', `${host}:/bind:ro`, 'busybox', 'sh', '-c', 'echo in volume > /data/f']), 'run');
      // GET (after HEAD for the stat): the file lives in the volume, not in the overlay
      const got = e.docker(['cp', `${name}:/data/f`, '-']);
      assert.equal(got.status, 0, got.stderr);
      assert.match(got.stdout, /in volume\n/);
      assert.match(ok(e.docker(['cp', `${name}:/bind/from-host`, '-']), 'cp from a bind'), /host side\n/);
      // PUT: lands in the volume, seen by a container that uses it
      const src = path.join(host, 'up');
      fs.writeFileSync(src, 'copied in\n');
      ok(e.docker(['cp', src, `${name}:/data/up`]), 'cp into the volume');
      assert.equal(ok(e.docker(['run', '--rm', '--volumes-from', name, 'busybox', 'cat', '/data/up']), 'read back'), 'copied in');
      // a read-only bind stays read-only
      const ro = e.docker(['cp', src, `${name}:/bind/up`]);
      assert.notEqual(ro.status, 0);
      assert.deepEqual(fs.readdirSync(host).sort(), ['from-host', 'up']);
    } finally {
      e.docker(['rm', '-f', '-v', name]);
      fs.rmSync(host, { recursive: true, force: true });
    }
  });
});
