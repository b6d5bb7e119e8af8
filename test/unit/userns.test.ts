import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { namespacedCapability, nextFreeId, parseRemapFlag, subIdMappings, toHost } from '../../src/engine/userns';
import { parseDaemonArgs } from '../../src/daemon/config';
import { buildSpec } from '../../src/spec/spec';
import { capsFromMask } from '../../src/spec/caps';

const SUBUID = `alice:100000:65536
# not a range
1001:300000:1000
alice:500000:10
bob:165536:65536
broken:x:10
`;

test('userns: --userns-remap values', () => {
  assert.deepEqual(parseRemapFlag('default'), { user: 'berthremap', group: 'berthremap' });
  assert.deepEqual(parseRemapFlag('alice'), { user: 'alice', group: 'alice' });
  assert.deepEqual(parseRemapFlag('alice:staff'), { user: 'alice', group: 'staff' });
  for (const bad of ['', ':g', 'a:', 'a:b:c']) assert.throws(() => parseRemapFlag(bad), /invalid --userns-remap/);
  assert.equal((parseDaemonArgs(['--userns-remap', 'default']) as { usernsRemap?: string }).usernsRemap, 'default');
  assert.equal('usernsRemap' in (parseDaemonArgs([]) as object), false);
  assert.throws(() => parseDaemonArgs(['--userns-remap', 'a:b:c']), /invalid --userns-remap/);
});

test('userns: subordinate ranges by name or id, consecutive inside the container', () => {
  assert.deepEqual(subIdMappings(SUBUID, 'alice', 1001), [
    { containerID: 0, hostID: 100000, size: 65536 },
    { containerID: 65536, hostID: 300000, size: 1000 },
    { containerID: 66536, hostID: 500000, size: 10 },
  ]);
  assert.deepEqual(subIdMappings(SUBUID, 'carol', undefined), []);
  assert.deepEqual(subIdMappings(SUBUID, 'broken', undefined), []);
});

test('userns: a new range starts after every existing one', () => {
  assert.equal(nextFreeId(SUBUID), 500010);
  assert.equal(nextFreeId(''), 100000);
});

test('userns: container ids to host ids; unmapped ids are the overflow id', () => {
  const maps = subIdMappings(SUBUID, 'alice', 1001);
  assert.equal(toHost(maps, 0), 100000);
  assert.equal(toHost(maps, 65535), 165535);
  assert.equal(toHost(maps, 65536), 300000);
  assert.equal(toHost(maps, 70000), 65534);
});

test('userns: a v2 file capability becomes v3 rooted at the remapped root; flags and sets kept', () => {
  const v2 = Buffer.alloc(20);
  v2.writeUInt32LE(0x02000001, 0); // revision 2, effective
  v2.writeUInt32LE(1 << 10, 4); // permitted: CAP_NET_BIND_SERVICE
  const v3 = namespacedCapability(v2, 100000)!;
  assert.equal(v3.length, 24);
  assert.equal(v3.readUInt32LE(0), 0x03000001);
  assert.equal(v3.readUInt32LE(4), 1 << 10);
  assert.equal(v3.readUInt32LE(20), 100000);
  assert.equal(namespacedCapability(Buffer.alloc(12), 1), undefined);
});

test('userns: the spec gets a user namespace, the mappings and none of the netns sysctls', () => {
  const userns = { uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 200000, size: 65536 }] };
  const input = {
    args: ['true'], env: [], cwd: '', user: { uid: 0, gid: 0 }, terminal: false, hostname: 'h', rootfs: '/r', mounts: [],
    network: { mode: 'path' as const, path: '/run/netns/x' }, availableCaps: capsFromMask('000001fffeffffff'), nofile: { soft: 1, hard: 1 },
  };
  const s = buildSpec({ ...input, userns });
  assert.ok(s.linux.namespaces.some((n) => n.type === 'user'));
  assert.deepEqual([s.linux.uidMappings, s.linux.gidMappings], [userns.uidMappings, userns.gidMappings]);
  assert.deepEqual(s.linux.sysctl, {});
  const plain = buildSpec(input);
  assert.ok(!plain.linux.namespaces.some((n) => n.type === 'user'));
  assert.equal('uidMappings' in plain.linux, false);
  assert.equal(plain.linux.sysctl['net.ipv4.ip_unprivileged_port_start'], '0');
});
