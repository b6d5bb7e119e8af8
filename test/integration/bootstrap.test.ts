/**
 * `berth image bootstrap`: a Debian minbase image from the host's apt sources (mmdebstrap), imported through the API;
 * the same inputs and SOURCE_DATE_EPOCH give the same image id; clear errors. The rootfs tar is cached under
 * /var/cache/berth/images (as scripts/base-images.sh does), so only the reproducibility check runs mmdebstrap.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { BERTH, TestDaemon, type RunResult } from '../helpers/daemon';

const d = new TestDaemon('bootstrap');
const EPOCH = '1700000000';
const ARGS = ['--variant', 'minbase', 'bookworm'];
const SOURCES = '/etc/apt/sources.list.d/debian.sources';
// keyed like base-images.sh: the arguments, the epoch and the host's sources
const CACHE = `/var/cache/berth/images/test-minbase-${createHash('sha256').update([...ARGS, EPOCH, fs.existsSync(SOURCES) ? fs.readFileSync(SOURCES, 'utf8') : ''].join('\n')).digest('hex').slice(0, 16)}.tar`;

before(() => d.start());
after(() => d.stop());

function bootstrap(args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(BERTH, ['image', 'bootstrap', ...args], { env: { ...d.env, ...env }, timeout: 300_000 });
  return { status: r.status ?? -1, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

function ok(r: RunResult): string {
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr.slice(-3000)}`);
  return r.stdout;
}

describe('berth image bootstrap', () => {
  let cachedId = '';

  it('makes a Debian image that runs, with docker-like defaults (CMD bash, PATH)', () => {
    cachedId = ok(bootstrap(['-t', 'bstest:a', '-t', 'bstest:b', '--rootfs-cache', CACHE, ...ARGS], { SOURCE_DATE_EPOCH: EPOCH })).trim();
    assert.match(cachedId, /^sha256:[0-9a-f]{64}$/, 'stdout is the image id only');
    assert.ok(fs.existsSync(CACHE), 'the rootfs tar is kept');
    assert.match(ok(d.berth(['run', '--rm', 'bstest:a', 'cat', '/etc/debian_version'])), /^12\.\d+\n$/);
    const [cfg] = JSON.parse(ok(d.berth(['image', 'inspect', 'bstest:b'])));
    assert.equal(cfg.Id, cachedId);
    assert.deepEqual(cfg.Config.Cmd, ['bash']);
    assert.deepEqual(cfg.Config.Env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    assert.equal(cfg.Created, new Date(Number(EPOCH) * 1000).toISOString().replace('.000Z', 'Z'));
    // slim (the default): no manuals or docs but the copyrights, merged /usr
    assert.equal(ok(d.berth(['run', '--rm', 'bstest:a', 'sh', '-c',
      'find /usr/share/man /usr/share/doc /usr/share/locale -type f ! -name copyright ! -name locale.alias | wc -l; ls /usr/share/doc/apt/copyright; readlink /bin'])),
    '0\n/usr/share/doc/apt/copyright\nusr/bin\n');
  });

  it('reuses the cached rootfs: no mmdebstrap run, and --change lines apply after the defaults', () => {
    const r = bootstrap(['-t', 'bstest:changed', '--rootfs-cache', CACHE, '-c', 'CMD ["sh", "-c", "echo changed"]', '-c', 'ENV A=1', ...ARGS]);
    ok(r);
    assert.equal(r.stderr, '', 'mmdebstrap did not run');
    assert.notEqual(r.stdout.trim(), cachedId, 'without SOURCE_DATE_EPOCH the created time (and so the id) differs');
    assert.equal(ok(d.berth(['run', '--rm', 'bstest:changed'])), 'changed\n');
    assert.equal(ok(d.berth(['run', '--rm', 'bstest:changed', 'sh', '-c', 'echo $A'])), '1\n');
  });

  it('is reproducible: a fresh mmdebstrap run with the same SOURCE_DATE_EPOCH gives the same image id', () => {
    ok(d.berth(['rmi', 'bstest:a', 'bstest:b']));
    const id = ok(bootstrap(['-q', '-t', 'bstest:fresh', ...ARGS], { SOURCE_DATE_EPOCH: EPOCH })).trim();
    assert.equal(id, cachedId);
  });

  it('names the problem: unknown suite, bad epoch, not root', () => {
    const suite = bootstrap(['no-such-suite']);
    assert.equal(suite.status, 1);
    assert.match(suite.stderr, /^unknown suite "no-such-suite": the host's apt sources \(.+\) offer bookworm/);
    const epoch = bootstrap(ARGS, { SOURCE_DATE_EPOCH: 'yesterday' });
    assert.equal(epoch.status, 1);
    assert.match(epoch.stderr, /invalid SOURCE_DATE_EPOCH "yesterday"/);
    const user = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', BERTH, 'image', 'bootstrap', 'bookworm'], { encoding: 'utf8' });
    assert.equal(user.status, 1, user.stderr);
    assert.match(user.stderr, /must run as root/);
    assert.equal(ok(d.berth(['images', '-q', 'bstest'])).trim().split('\n').filter(Boolean).length, 2, 'no image from the failures');
  });
});
