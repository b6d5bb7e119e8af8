/** Pure parts of rootless Berth: requirements and their fixes, paths, socket choice, tar's device complaints. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { defaultSocket } from '../../src/client/engine';
import { maxMappedGid, rootlessPaths } from '../../src/common/rootless';
import { missingPieces, subidCount, type HostFactsRootless } from '../../src/rootless/check';
import { privilegedPortMessage } from '../../src/rootless/ports';
import { onlySkippedDevices } from '../../src/store/layers';

const ok: HostFactsRootless = {
  user: 'ann', uid: 1000, subuidCount: 65536, subgidCount: 65536,
  tools: { newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap', unshare: '/usr/bin/unshare', slirp4netns: '/usr/bin/slirp4netns' },
  uidmapPrivileged: true, maxUserNamespaces: 1000, kernel: [6, 1], runtimeDir: '/run/user/1000', runtimeDirOk: true,
};

describe('rootless requirements', () => {
  it('finds nothing missing on a ready host', () => assert.deepEqual(missingPieces(ok), []));
  it('names each missing piece with its fix', () => {
    const m = missingPieces({ ...ok, subuidCount: 0, tools: { ...ok.tools, newuidmap: undefined }, unprivilegedUsernsClone: 0, kernel: [5, 10], runtimeDir: undefined });
    const text = m.map((x) => `${x.piece} => ${x.fix}`).join('\n');
    assert.match(text, /uidmap\) => sudo apt-get install -y uidmap/);
    assert.match(text, /\/etc\/subuid \(65536 needed, 0 found\) => sudo usermod --add-subuids 100000-165535 ann/);
    assert.match(text, /kernel.unprivileged_userns_clone=1/);
    assert.match(text, /Linux 5.11 or later; this is 5.10/);
    assert.match(text, /XDG_RUNTIME_DIR/);
    assert.doesNotMatch(text, /subgid/);
  });
  it('counts subordinate ids by name or uid', () => {
    assert.equal(subidCount('ann:100000:65536\n1000:200000:10\nbob:1:5\n', 'ann', 1000), 65546);
    assert.equal(subidCount('', 'ann', 1000), 0);
  });
});

describe('rootless paths', () => {
  it('follows the XDG dirs', () => {
    assert.deepEqual(rootlessPaths({ XDG_RUNTIME_DIR: '/run/user/7' }, '/home/u'), { dataRoot: '/home/u/.local/share/berth', execRoot: '/run/user/7/berth', socket: '/run/user/7/berth/berth.sock' });
    assert.equal(rootlessPaths({ XDG_RUNTIME_DIR: '/run/user/7', XDG_DATA_HOME: '/d' }, '/h')?.dataRoot, '/d/berth');
    assert.equal(rootlessPaths({}, '/h'), undefined);
  });
  it('the CLI picks the user\'s socket only for a non-root user', () => {
    assert.equal(defaultSocket({ XDG_RUNTIME_DIR: '/run/user/7' }, 7), '/run/user/7/berth/berth.sock');
    assert.equal(defaultSocket({ XDG_RUNTIME_DIR: '/run/user/0' }, 0), '/run/berth/berth.sock');
    assert.equal(defaultSocket({}, 7), '/run/berth/berth.sock');
  });
  it('reads the highest mapped gid', () => assert.equal(maxMappedGid('         0       1001          1\n         1     100000      65535\n'), 65535));
});

describe('rootless layers and ports', () => {
  it('accepts only mknod refusals of the layer\'s own devices', () => {
    const devs = new Set(['./dev/null']);
    assert.equal(onlySkippedDevices('tar: ./dev/null: Cannot mknod: Operation not permitted\ntar: Exiting with failure status due to previous errors\n', devs), true);
    assert.equal(onlySkippedDevices('tar: ./etc/x: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n', devs), false);
    assert.equal(onlySkippedDevices('tar: ./dev/zero: Cannot mknod: Operation not permitted\n', devs), false);
  });
  it('words the privileged port refusal as rootless Docker', () => {
    assert.match(privilegedPortMessage(80, 1024), /cannot expose privileged port 80, you can add 'net.ipv4.ip_unprivileged_port_start=80' to \/etc\/sysctl.conf \(currently 1024\)/);
  });
});
