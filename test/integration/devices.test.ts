/** `--device` and `--device-cgroup-rule` against a real berthd and crun (the device cgroup enforces the rules). */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon';

const d = new TestDaemon('devices');

before(async () => {
  await d.start();
  d.importBusybox();
});
after(() => d.stop());

describe('--device', () => {
  for (const cli of ['berth', 'docker'] as const) {
    it(`maps /dev/null to /dev/mynull (${cli} CLI)`, () => {
      const r = d[cli](['run', '--rm', '--device', '/dev/null:/dev/mynull', 'busybox', 'sh', '-c',
        'echo x > /dev/mynull && stat -c "%F %t:%T %a" /dev/mynull']);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, 'character special file 1:3 666\n');
    });
  }

  it('refuses a host path that is not there', () => {
    const r = d.berth(['create', '--device', '/dev/nope', 'busybox']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /error gathering device information while adding custom device "\/dev\/nope": no such file or directory/);
  });
});

describe('--device-cgroup-rule', () => {
  // loop0 (block 7:0) is not in the default allow list: a node for it can be made but not opened without a rule.
  const script = 'mknod /tmp/l b 7 0 && head -c 1 /tmp/l; echo rc=$?';

  it('denies a device without a rule', () => {
    const r = d.berth(['run', '--rm', 'busybox', 'sh', '-c', script]);
    assert.match(r.stderr, /Operation not permitted/);
    assert.equal(r.stdout, 'rc=1\n');
  });

  it('allows it with a rule', () => {
    const r = d.berth(['run', '--rm', '--device-cgroup-rule', 'b 7:0 r', 'busybox', 'sh', '-c', script]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'rc=0\n');
  });

  it('refuses a malformed rule', () => {
    const r = d.berth(['create', '--device-cgroup-rule', 'c 1 rwm', 'busybox']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /invalid device cgroup format 'c 1 rwm'/);
  });
});
