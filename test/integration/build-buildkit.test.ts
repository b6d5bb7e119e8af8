/**
 * BuildKit's Dockerfile features in Berth's one builder, through `berth build` and the docker CLI (legacy /build
 * endpoint): the syntax directive and RUN --mount/--network/--security. With BERTH_COMPAT_DOCKER_HOST the compatible
 * checks run against Docker; Docker's legacy builder has no RUN --mount or --secret, so those are skipped there.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { TestDaemon } from '../helpers/daemon';
import { buildHarness } from '../helpers/build';

const { e, tmp, TAG, NO_MOUNT, BERTH_ONLY, berth, context, ok, assertNothingLeft, lifecycle } = buildHarness('bk');

lifecycle(['cache', 'secret', 'bind', 'out']);

describe('# syntax=', () => {
  it('docker/dockerfile:1.x is the built-in frontend (berth and docker CLI)', () => {
    const dir = context('syntax-ok', { Dockerfile: '# syntax=docker/dockerfile:1.7\nFROM busybox\nRUN echo built\n' });
    ok(berth(['build', '-q', dir]), 'berth build');
    ok(e.docker(['build', '-q', dir]), 'docker build');
  });

  it('another frontend image is refused naming the line', { skip: BERTH_ONLY }, () => {
    const dir = context('syntax-bad', { Dockerfile: '# syntax=example.com/evil/frontend:2\nFROM busybox\n' });
    const r = berth(['build', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:1: syntax directive names the frontend image "example.com\/evil\/frontend:2"/);
  });
});

describe('RUN --mount=type=cache', { skip: NO_MOUNT }, () => {
  const dockerfile = `FROM busybox
ARG REQ
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \\
    n=$(ls /root/.cache/pip | wc -l); echo "cached=$n"; \\
    for p in $REQ; do [ -f /root/.cache/pip/$p ] || { echo "download $p"; echo "$p" > /root/.cache/pip/$p; }; done; \\
    for p in $REQ; do cp /root/.cache/pip/$p /installed-$p; done
`;
  const count = (out: string): number => (out.match(/^download /gm) ?? []).length;

  it('a second build reuses the downloaded files (berth, then docker CLI); nothing of the cache is in the image', () => {
    const dir = context('cache', { Dockerfile: dockerfile });
    const first = ok(berth(['build', '--no-cache', '-t', `${TAG}-cache`, '--build-arg', 'REQ=a b c', dir]), 'first build');
    assert.equal(count(first.stdout), 3);
    assert.match(first.stdout, /cached=0/);
    const second = ok(e.docker(['build', '-t', `${TAG}-cache`, '--build-arg', 'REQ=a b c d', dir]), 'second build');
    assert.equal(count(second.stdout), 1, 'only the new requirement is downloaded');
    assert.match(second.stdout, /cached=3/);
    const run = ok(e.docker(['run', '--rm', `${TAG}-cache`, 'sh', '-c', 'cat /installed-*; test -e /root/.cache || echo no-stub']), 'run');
    assert.equal(run.stdout, 'a\nb\nc\nd\nno-stub\n', 'the image has the installed files, no cache dir nor its stub');
    assertNothingLeft();
  });

  it('builder prune: --filter until and --keep-storage keep a fresh small cache, -a removes it; the next build downloads again', () => {
    const dir = context('cache', { Dockerfile: dockerfile });
    ok(berth(['build', '-q', '--build-arg', 'REQ=x', dir]), 'build');
    const until = ok(berth(['builder', 'prune', '-f', '--filter', 'until=1h']), 'prune until');
    assert.doesNotMatch(until.stdout, /Deleted build cache objects/);
    ok(berth(['builder', 'prune', '-f', '--keep-storage', '1g']), 'prune keep-storage');
    const again = ok(berth(['build', '--no-cache', '--build-arg', 'REQ=a x', dir]), 'build');
    assert.equal(count(again.stdout), 0, 'cache kept');
    const all = ok(berth(['builder', 'prune', '-a', '-f']), 'prune -a');
    assert.match(all.stdout, /Deleted build cache objects:\n[0-9a-f]{32}\n/);
    assert.match(all.stdout, /Total reclaimed space: \d/);
    const after = ok(berth(['build', '--no-cache', '--build-arg', 'REQ=a x', dir]), 'build');
    assert.equal(count(after.stdout), 2, 'the pruned cache is gone');
    ok(berth(['system', 'prune', '-f']), 'system prune');
    const last = ok(berth(['build', '--no-cache', '--build-arg', 'REQ=a', dir]), 'build');
    assert.equal(count(last.stdout), 1, 'system prune removed the cache too');
  });

  it('an unknown mount type or option is an error naming the line; nothing is left', () => {
    for (const [mount, msg] of [['type=nfs,target=/x', /unsupported mount type "nfs"/], ['type=cache,target=/x,colour=red', /unexpected key 'colour' in 'colour=red'/],
      ['type=cache,target=/x,sharing=sometimes', /unsupported sharing value "sometimes"/]] as const) {
      const dir = context('badmount', { Dockerfile: `FROM busybox\n\nRUN --mount=${mount} true\n` });
      for (const r of [berth(['build', dir]), e.docker(['build', dir])]) {
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /Dockerfile:3: /);
        assert.match(r.stderr, msg);
      }
    }
    assertNothingLeft();
  });
});

describe('RUN --mount=type=secret', { skip: NO_MOUNT }, () => {
  const SECRET = `S3cr3t-${process.pid}-value`;
  // The Dockerfile never names the value (RUN text is history): the step prints its digest.
  const dockerfile = `FROM busybox
RUN --mount=type=secret,id=tok sha256sum /run/secrets/tok
RUN --mount=type=secret,id=tok,env=TOKEN,target=/etc/tok.txt,mode=0440,uid=65534 \\
    test "$TOKEN" = "$(cat /etc/tok.txt)" && stat -c '%a %u' /etc/tok.txt && echo env-ok
RUN --mount=type=secret,id=tok,env=ONLYENV test -n "$ONLYENV" && test ! -e /run/secrets/tok && echo only-env-ok
`;

  it('is readable in RUN and found nowhere in the image, its history, its layers or the daemon log', () => {
    const file = path.join(tmp, 'tok.txt');
    fs.writeFileSync(file, SECRET);
    const dir = context('secret', { Dockerfile: dockerfile });
    const r = ok(berth(['build', '-t', `${TAG}-secret`, '--secret', `id=tok,src=${file}`, dir]), 'build');
    assert.ok(r.stdout.includes(`${createHash('sha256').update(SECRET).digest('hex')}  /run/secrets/tok`), r.stdout);
    assert.match(r.stdout, /440 65534\n/);
    assert.match(r.stdout, /env-ok/);
    assert.match(r.stdout, /only-env-ok/);
    const saved = spawnSync('docker', ['save', `${TAG}-secret`], { env: e.env, maxBuffer: 1 << 30 }).stdout;
    const texts = [saved.toString('latin1')];
    // layers may be stored compressed inside the archive: look inside every gzip member too
    for (let i = saved.indexOf(Buffer.from([0x1f, 0x8b, 8])); i >= 0; i = saved.indexOf(Buffer.from([0x1f, 0x8b, 8]), i + 1)) {
      try {
        texts.push(zlib.gunzipSync(saved.subarray(i), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('latin1'));
      } catch { /* not a gzip member */ }
    }
    for (const t of texts) assert.ok(!t.includes(SECRET), 'secret not in the saved image');
    const hist = ok(e.docker(['history', '--no-trunc', `${TAG}-secret`]), 'history').stdout;
    const inspect = ok(e.docker(['image', 'inspect', `${TAG}-secret`]), 'inspect').stdout;
    assert.ok(!hist.includes(SECRET) && !inspect.includes(SECRET), 'secret not in history or config');
    assert.match(hist, /sha256sum \/run\/secrets\/tok/);
    const run = e.docker(['run', '--rm', `${TAG}-secret`, 'sh', '-c', 'test ! -e /run/secrets && test ! -e /etc/tok.txt']);
    ok(run, 'no secret stubs in the image');
    const log = fs.readFileSync((e as unknown as { logFile: string }).logFile, 'utf8');
    assert.ok(!log.includes(SECRET), 'secret not in the daemon log');
    assertNothingLeft();
  });

  it('from an environment variable (--secret id=tok,env=VAR)', () => {
    const dir = context('secret-env', { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=tok,required cat /run/secrets/tok; echo\n' });
    const r = ok(berth(['build', '--no-cache', '--secret', 'id=tok,env=MY_TOKEN', dir], { MY_TOKEN: 'from-env-42' }), 'build');
    assert.match(r.stdout, /from-env-42/);
  });

  it('a missing required secret is an error naming the line; an optional one is skipped; nothing is left', () => {
    const dir = context('secret-missing', { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=opt ls /run/secrets 2>&1 | wc -l\nRUN --mount=type=secret,id=nope,required=true true\n' });
    const r = berth(['build', '--no-cache', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:3: RUN: secret nope: not found/);
    assertNothingLeft();
  });
});

describe('RUN --mount=type=ssh', { skip: NO_MOUNT }, () => {
  it('forwards a key file (loaded into an agent of berthd) or the client\'s agent socket; a missing required one is an error', () => {
    const key = path.join(tmp, 'id_ed25519');
    if (!fs.existsSync(key)) assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status, 0);
    const dir = context('ssh', { Dockerfile: 'FROM busybox\nRUN --mount=type=ssh,required test -S "$SSH_AUTH_SOCK" && echo "agent at $SSH_AUTH_SOCK"\n' });
    const r = ok(berth(['build', '--no-cache', '--ssh', `default=${key}`, dir]), 'build with a key file');
    assert.match(r.stdout, /agent at \/run\/buildkit\/ssh_agent.0/);
    const agent = spawnSync('ssh-agent', ['-s']).stdout.toString();
    const sock = /SSH_AUTH_SOCK=([^;]+);/.exec(agent)?.[1] as string;
    const pid = Number(/SSH_AGENT_PID=(\d+);/.exec(agent)?.[1]);
    try {
      const a = ok(berth(['build', '--no-cache', '--ssh', 'default', dir], { SSH_AUTH_SOCK: sock }), 'build with the agent socket');
      assert.match(a.stdout, /agent at /);
    } finally {
      process.kill(pid);
    }
    const missing = berth(['build', '--no-cache', dir]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /Dockerfile:2: RUN: no SSH key "default" forwarded from the client/);
    assertNothingLeft();
  });
});

describe('RUN --mount bind/tmpfs, --network, --security', { skip: NO_MOUNT }, () => {
  it('binds the context (read-only) and another stage; tmpfs; none of them is in the layer', () => {
    const dir = context('bind', {
      Dockerfile: `FROM busybox AS tools
RUN mkdir -p /opt/tools && echo tool > /opt/tools/t.txt
FROM busybox
RUN --mount=type=bind,source=src,target=/mnt/src \\
    --mount=type=bind,from=tools,source=/opt/tools,target=/mnt/tools \\
    --mount=type=tmpfs,target=/scratch \\
    cat /mnt/src/a.txt /mnt/tools/t.txt > /result && echo x > /scratch/y && (touch /mnt/src/new 2>/dev/null || echo ro-ok)
RUN --mount=type=bind,source=src,target=/mnt/src,rw touch /mnt/src/new && echo rw-ok
`,
      'src/a.txt': 'from-context\n',
    });
    const r = ok(berth(['build', '-t', `${TAG}-bind`, dir]), 'build');
    assert.match(r.stdout, /ro-ok/);
    assert.match(r.stdout, /rw-ok/);
    assert.ok(!fs.existsSync(path.join(dir, 'src/new')), 'rw bind writes are thrown away');
    const run = ok(e.docker(['run', '--rm', `${TAG}-bind`, 'sh', '-c', 'cat /result; ls /mnt /scratch 2>&1 | wc -l']), 'run');
    assert.equal(run.stdout, 'from-context\ntool\n2\n');
    e.docker(['rmi', '-f', `${TAG}-bind`]);
  });

  it('--network=none has only lo; --security=insecure is refused without the entitlement', () => {
    const dir = context('net', { Dockerfile: 'FROM busybox\nRUN --network=none ls /sys/class/net\n' });
    const r = ok(berth(['build', '--no-cache', dir]), 'build');
    assert.match(r.stdout, /^lo\n/m);
    assert.doesNotMatch(r.stdout, /eth0/);
    const ins = context('insecure', { Dockerfile: 'FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status\n' });
    const bad = berth(['build', ins]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /Dockerfile:2: RUN: security.insecure is not allowed: start berthd with --allow-insecure-entitlement security.insecure/);
    assertNothingLeft();
  });

  it('--security=insecure runs the step privileged when berthd allows the entitlement', async () => {
    const allowed = new TestDaemon('bk-insecure', ['--allow-insecure-entitlement', 'security.insecure']);
    try {
      await allowed.start();
      allowed.importBusybox();
      const dir = context('insecure', { Dockerfile: 'FROM busybox\nRUN --security=insecure grep CapEff /proc/self/status\nRUN grep CapEff /proc/self/status\n' });
      const r = allowed.berth(['build', '--no-cache', dir]);
      assert.equal(r.status, 0, r.stderr);
      const caps = [...r.stdout.matchAll(/CapEff:\s+([0-9a-f]+)/g)].map((m) => BigInt(`0x${m[1]}`));
      assert.equal(caps.length, 2);
      assert.ok(caps[0] > caps[1], `privileged step has more capabilities: ${caps.map((c) => c.toString(16))}`);
      assert.ok(caps[0] & (1n << 21n), 'CAP_SYS_ADMIN in the insecure step');
    } finally {
      await allowed.stop();
    }
  });
});
