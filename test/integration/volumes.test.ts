/** Named and anonymous volumes, copy-up, driver options, --volumes-from, --read-only, through the berth and docker CLIs. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestDaemon, type RunResult } from '../helpers/daemon';

const d = new TestDaemon('volumes');

before(async () => {
  await d.start();
  d.importBusybox();
  ok(d.berth(['import', '--change', 'CMD ["sh"]', '--change', 'VOLUME /usr/sbin', '/var/tmp/berth-test-busybox.tar', 'bbvol']));
});
after(() => d.stop());

function ok(r: RunResult): string {
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

const names = (): string[] => ok(d.berth(['volume', 'ls', '-q'])).split('\n').filter(Boolean).sort();
const anonymous = (): string[] => names().filter((n) => /^[0-9a-f]{64}$/.test(n));

describe('named volumes', () => {
  it('persist across container removal; in use they cannot be removed (409, docker wording)', () => {
    assert.equal(ok(d.berth(['volume', 'create', '--label', 'team=a', 'keep'])), 'keep\n');
    const id = ok(d.berth(['create', '--name', 'writer', '-v', 'keep:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f'])).trim();
    ok(d.berth(['start', '-a', 'writer']));
    const rm = d.berth(['volume', 'rm', 'keep']);
    assert.equal(rm.status, 1);
    assert.equal(rm.stderr.trim(), `Error response from daemon: remove keep: volume is in use - [${id}]`);
    ok(d.berth(['rm', 'writer']));
    assert.equal(ok(d.berth(['run', '--rm', '-v', 'keep:/data:ro', 'busybox', 'cat', '/data/f'])), 'persisted\n');
    const [v] = JSON.parse(ok(d.berth(['volume', 'inspect', 'keep'])));
    assert.deepEqual(Object.keys(v).sort(), ['CreatedAt', 'Driver', 'Labels', 'Mountpoint', 'Name', 'Options', 'Scope']);
    assert.deepEqual([v.Name, v.Driver, v.Scope, v.Labels, v.Mountpoint], ['keep', 'local', 'local', { team: 'a' }, path.join(d.dataRoot, 'volumes/keep/_data')]);
    assert.equal(ok(d.berth(['volume', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}} {{.Driver}}'])), 'keep local\n');
    assert.equal(ok(d.berth(['volume', 'rm', 'keep'])), 'keep\n');
    assert.ok(!names().includes('keep'));
  });

  it('copy up the image content at the target when new and empty (owners, modes, symlinks, times), not with nocopy', () => {
    const plain = ok(d.berth(['run', '--rm', 'busybox', 'ls', '-ln', '--full-time', '/usr/sbin']));
    assert.match(plain, /-> /, 'busybox /usr/sbin holds symlinks');
    assert.equal(ok(d.berth(['run', '--rm', '-v', 'copied:/usr/sbin', 'busybox', 'ls', '-ln', '--full-time', '/usr/sbin'])), plain);
    assert.equal(ok(d.berth(['run', '--rm', '--mount', 'type=volume,src=bare,dst=/usr/sbin,volume-nocopy', 'busybox', 'ls', '-A', '/usr/sbin'])), '');
    assert.equal(ok(d.berth(['run', '--rm', '-v', 'bare2:/usr/sbin:nocopy', 'busybox', 'ls', '-A', '/usr/sbin'])), '');
    ok(d.berth(['volume', 'rm', 'copied', 'bare', 'bare2']));
  });

  it('with driver options: a tmpfs volume is mounted for its users and shared through --volumes-from', () => {
    ok(d.berth(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=2m', 'ram']));
    ok(d.berth(['run', '-d', '--name', 'ramuser', '-v', 'ram:/ram', 'busybox', 'sh', '-c', 'echo shared > /ram/f; sleep 60']));
    // the docker CLI: berth's run has no --volumes-from flag yet
    const out = ok(d.docker(['run', '--rm', '--volumes-from', 'ramuser:ro', 'busybox', 'sh', '-c',
      'for i in 1 2 3 4 5 6 7 8 9 10; do [ -f /ram/f ] && break; sleep 0.2; done; cat /ram/f; df -k /ram | tail -1; touch /ram/x 2>&1 || true']));
    assert.match(out, /^shared\ntmpfs\s+2048 /);
    assert.match(out, /Read-only file system/);
    ok(d.berth(['rm', '-f', 'ramuser']));
    ok(d.berth(['volume', 'rm', 'ram']));
  });
});

describe('anonymous volumes', () => {
  it('come from -v /path and the image VOLUME; rm -v and --rm remove them, rm keeps them for prune', () => {
    const before = anonymous();
    ok(d.berth(['run', '--name', 'anon1', '-v', '/scratch', 'bbvol', 'sh', '-c', 'ls /usr/sbin | grep -q arping && touch /scratch/x']));
    const made = anonymous().filter((n) => !before.includes(n));
    assert.equal(made.length, 2, 'one for -v /scratch, one for VOLUME /usr/sbin');
    const mounts = JSON.parse(ok(d.berth(['inspect', '-f', '{{json .Mounts}}', 'anon1'])));
    assert.deepEqual(mounts.map((m: { Destination: string }) => m.Destination).sort(), ['/scratch', '/usr/sbin']);
    for (const m of mounts) assert.deepEqual([m.Type, m.Driver, m.RW, made.includes(m.Name), m.Source], ['volume', 'local', true, true, path.join(d.dataRoot, 'volumes', m.Name, '_data')]);
    ok(d.berth(['rm', '-v', 'anon1']));
    assert.deepEqual(anonymous(), before);

    ok(d.berth(['run', '--rm', 'bbvol', 'true']));
    assert.deepEqual(anonymous(), before, '--rm removes anonymous volumes');

    ok(d.berth(['volume', 'create', 'named1']));
    ok(d.berth(['run', '--name', 'anon2', '-v', 'named1:/n', 'bbvol', 'true']));
    ok(d.berth(['rm', 'anon2']));
    const left = anonymous().filter((n) => !before.includes(n));
    assert.equal(left.length, 1);
    const pruned = ok(d.berth(['volume', 'prune', '-f']));
    assert.match(pruned, new RegExp(`Deleted Volumes:\\n${left[0]}\\n`));
    assert.ok(names().includes('named1'), 'prune without --all keeps named volumes');
    assert.match(ok(d.berth(['volume', 'prune', '-f', '--all'])), /named1/);
    assert.ok(!names().includes('named1'));
  });
});

describe('read-only root and tmpfs', () => {
  it('--read-only keeps volumes and --tmpfs writable', () => {
    const r = d.berth(['run', '--rm', '--read-only', '-v', 'rw1:/data', '--tmpfs', '/run:size=1m', 'busybox', 'sh', '-c',
      'touch /data/ok && touch /run/ok && echo writable; touch /etc/nope']);
    assert.equal(r.stdout, 'writable\n');
    assert.match(r.stderr, /Read-only file system/);
    assert.notEqual(r.status, 0);
    ok(d.berth(['volume', 'rm', 'rw1']));
  });
});

describe('docker CLI', () => {
  it('volume create/ls/inspect/rm/prune and run -v name:/path (HostConfig.Binds)', () => {
    assert.equal(ok(d.docker(['volume', 'create', 'dv'])), 'dv\n');
    assert.match(ok(d.docker(['volume', 'ls'])), /^DRIVER\s+VOLUME NAME\n(.*\n)*local\s+dv\n/);
    ok(d.docker(['run', '--name', 'dcli', '-v', 'dv:/data', 'busybox', 'sh', '-c', 'echo via-docker > /data/f']));
    const [c] = JSON.parse(ok(d.docker(['inspect', 'dcli'])));
    assert.deepEqual(c.Mounts, [{ Type: 'volume', Name: 'dv', Source: path.join(d.dataRoot, 'volumes/dv/_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' }]);
    const rm = d.docker(['volume', 'rm', 'dv']);
    assert.equal(rm.status, 1);
    assert.match(rm.stderr, /remove dv: volume is in use - \[[0-9a-f]{64}\]/);
    ok(d.docker(['rm', '-v', 'dcli']));
    assert.equal(fs.readFileSync(path.join(d.dataRoot, 'volumes/dv/_data/f'), 'utf8'), 'via-docker\n', 'rm -v keeps named volumes');
    assert.equal(ok(d.docker(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', 'dv'])), 'dv local\n');
    const missing = d.docker(['volume', 'inspect', 'nosuch']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no such volume/i);
    assert.match(ok(d.docker(['volume', 'prune', '-af'])), /Deleted Volumes:\n(.*\n)*dv\n/);
    assert.ok(!names().includes('dv'));
  });
});
