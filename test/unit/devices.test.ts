/** `--device` / `--device-cgroup-rule` parsing and their place in the OCI spec. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { containerDevice, parseDevice, parseDeviceCgroupRule } from '../../src/spec/devices';

describe('parseDevice', () => {
  it('reads docker forms', () => {
    assert.deepEqual(parseDevice('/dev/fuse'), { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' });
    assert.deepEqual(parseDevice('/dev/null:/dev/mynull'), { PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' });
    assert.deepEqual(parseDevice('/dev/sda:r'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'r' });
    assert.deepEqual(parseDevice('/dev/sda:/dev/xvdc:rw'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvdc', CgroupPermissions: 'rw' });
  });

  it('refuses bad input', () => {
    assert.throws(() => parseDevice('/dev/sda:/dev/x:rx'), /invalid device mode: rx/);
    assert.throws(() => parseDevice('dev/sda'), /dev\/sda is not an absolute path/);
    assert.throws(() => parseDevice('/dev/sda:xvdc'), /xvdc is not an absolute path/);
    assert.throws(() => parseDevice('/a:/b:r:x'), /invalid device specification/);
  });
});

describe('parseDeviceCgroupRule', () => {
  it('maps rules to OCI allow rules, * meaning any', () => {
    assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
    assert.deepEqual(parseDeviceCgroupRule('b *:* m'), { allow: true, type: 'b', access: 'm' });
    assert.deepEqual(parseDeviceCgroupRule('c 81:* rw'), { allow: true, type: 'c', major: 81, access: 'rw' });
  });

  it('refuses malformed rules with docker message', () => {
    for (const r of ['c 1 rwm', 'x 1:3 rwm', 'c 1:3 rwx', 'c 1:3']) assert.throws(() => parseDeviceCgroupRule(r), /invalid device cgroup format/);
  });
});

describe('containerDevice', () => {
  it('makes a root-owned node at the container path and its rule', () => {
    const d = containerDevice(parseDevice('/dev/null:/dev/mynull:rw'), { char: true, major: 1, minor: 3, mode: 0o20666 });
    assert.deepEqual(d.device, { type: 'c', path: '/dev/mynull', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });
    assert.deepEqual(d.rule, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
  });
});
