import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { resolveUser } from '../../src/spec/user';
import { DEFAULT_PATH, mergeConfig, processArgs, processEnv } from '../../src/spec/command';
import { parseBind, parseMount, parseMounts, tmpfsOptions } from '../../src/spec/mounts';
import { boundingCaps, capsFromMask, containerCaps, DEFAULT_CAPS } from '../../src/spec/caps';
import { defaultNofile } from '../../src/spec/host';
import { buildSpec, MASKED_PATHS, type SpecInput } from '../../src/spec/spec';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
app:x:1000:
audio:x:29:app,other
video:x:44:app
`;

test('user: empty string is root with root home', () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0], home: '/root' });
});

test('user: name resolves uid, gid, home and supplementary groups', () => {
  assert.deepEqual(resolveUser('app', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000, 29, 44], home: '/home/app' });
});

test('user: numeric uid found and not found in passwd', () => {
  assert.equal(resolveUser('1', PASSWD, GROUP).home, '/usr/sbin');
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [0], home: '/' });
  assert.deepEqual(resolveUser('4242:77', undefined, undefined), { uid: 4242, gid: 77, additionalGids: [77], home: '/' });
});

test('user: name:group uses the group and drops implicit memberships', () => {
  assert.deepEqual(resolveUser('app:video', PASSWD, GROUP), { uid: 1000, gid: 44, additionalGids: [44], home: '/home/app' });
  assert.deepEqual(resolveUser('app:500', PASSWD, GROUP).gid, 500);
});

test('user: docker errors for unknown names and out-of-range ids', () => {
  assert.throws(() => resolveUser('foo', PASSWD, GROUP), { message: 'unable to find user foo: no matching entries in passwd file' });
  assert.throws(() => resolveUser('foo', undefined, undefined), { message: 'unable to find user foo: no matching entries in passwd file' });
  assert.throws(() => resolveUser('app:nogroup', PASSWD, GROUP), { message: 'unable to find group nogroup: no matching entries in group file' });
  assert.throws(() => resolveUser('-1', PASSWD, GROUP), { message: 'uids and gids must be in range 0-2147483647' });
});

test('user: GroupAdd by name and number', () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP, ['audio', '555']).additionalGids, [0, 29, 555]);
  assert.throws(() => resolveUser('', PASSWD, GROUP, ['nope']), /unable to find group nope/);
});

test('command: body Cmd overrides image Cmd and keeps image Entrypoint', () => {
  const m = mergeConfig({ Cmd: ['-c', 'x'] }, { Entrypoint: ['/bin/sh'], Cmd: ['-l'] });
  assert.deepEqual(processArgs(m), ['/bin/sh', '-c', 'x']);
});

test('command: body Entrypoint resets the image Cmd', () => {
  const m = mergeConfig({ Entrypoint: ['/bin/echo'] }, { Entrypoint: ['/bin/sh'], Cmd: ['-l'] });
  assert.deepEqual(processArgs(m), ['/bin/echo']);
  assert.equal(m.Cmd, null);
});

test('command: --entrypoint "" clears the image Entrypoint', () => {
  const m = mergeConfig({ Entrypoint: [''], Cmd: ['ls'] }, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['x'] });
  assert.deepEqual(processArgs(m), ['ls']);
  assert.equal(m.Entrypoint, null);
});

test('command: image defaults when the body has none; no command is an error', () => {
  assert.deepEqual(processArgs(mergeConfig({ Cmd: null, Entrypoint: null }, { Cmd: ['sh'] })), ['sh']);
  assert.throws(() => mergeConfig({}, {}), { message: 'no command specified' });
  assert.throws(() => mergeConfig({ Entrypoint: [''] }, { Cmd: ['sh'] }), { message: 'no command specified' });
});

test('command: Env merge keeps user values and appends image-only keys', () => {
  const m = mergeConfig({ Cmd: ['x'], Env: ['A=user', 'C=3'] }, { Env: ['A=image', 'B=2'] });
  assert.deepEqual(m.Env, ['A=user', 'C=3', 'B=2']);
  assert.deepEqual(mergeConfig({ Cmd: ['x'] }, { Env: ['B=2'] }).Env, ['B=2']);
});

test('command: process env has PATH, HOSTNAME, TERM with tty; config overrides and unsets', () => {
  assert.deepEqual(processEnv([], 'h1', false), [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=h1']);
  assert.deepEqual(processEnv(['PATH=/x', 'FOO=1', 'TERM'], 'h1', true), ['PATH=/x', 'HOSTNAME=h1', 'FOO=1']);
});

test('mounts: -v forms', () => {
  assert.deepEqual(parseBind('/h:/c'), { kind: 'bind', source: '/h', target: '/c', readOnly: false, propagation: 'rprivate', createSource: true });
  assert.deepEqual(parseBind('/h/:/c/:ro,rshared'), { kind: 'bind', source: '/h', target: '/c', readOnly: true, propagation: 'rshared', createSource: true });
  assert.deepEqual(parseBind('/h:/c:z').kind, 'bind');
  assert.deepEqual(parseBind('data:/c:ro'), { kind: 'volume', name: 'data', target: '/c', readOnly: true, noCopy: false });
  assert.deepEqual(parseBind('/anon'), { kind: 'volume', name: '', target: '/anon', readOnly: false, noCopy: false });
});

test('mounts: -v errors use docker wording', () => {
  assert.throws(() => parseBind('/c:rw'), { message: "invalid volume specification: '/c:rw'" });
  assert.throws(() => parseBind('/a:/b:/c:ro'), { message: "invalid volume specification: '/a:/b:/c:ro'" });
  assert.throws(() => parseBind(':/c'), { message: "invalid volume specification: ':/c'" });
  assert.throws(() => parseBind('/h:/c:bogus'), { message: 'invalid mode: bogus' });
  assert.throws(() => parseBind('/h:/c:ro,rw'), { message: 'invalid mode: ro,rw' });
  assert.throws(() => parseBind('/h:/'), { message: `invalid volume specification: '/h:/': invalid mount config for type "bind": invalid specification: destination can't be '/'` });
  assert.throws(() => parseBind('/h:rel'), { message: `invalid volume specification: '/h:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute` });
});

test('mounts: --mount type=bind checks the source exists', () => {
  const exists = (p: string): boolean => p === '/there';
  assert.deepEqual(parseMount({ Type: 'bind', Source: '/there', Target: '/c', ReadOnly: true }, exists), {
    kind: 'bind', source: '/there', target: '/c', readOnly: true, propagation: 'rprivate', createSource: false,
  });
  assert.throws(() => parseMount({ Type: 'bind', Source: '/x', Target: '/c' }, exists), {
    message: 'invalid mount config for type "bind": bind source path does not exist: /x',
  });
  assert.throws(() => parseMount({ Type: 'bind', Source: '/there', Target: '/c', BindOptions: { Propagation: 'weird' } }, exists), /invalid propagation mode: weird/);
  assert.throws(() => parseMount({ Type: 'volume', Source: 'v', Target: '/c', BindOptions: {} }, exists), {
    message: 'invalid mount config for type "volume": field BindOptions must not be specified',
  });
  assert.deepEqual(parseMount({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o1777 } }, exists), {
    kind: 'tmpfs', target: '/t', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=1777', 'size=1024'],
  });
});

test('mounts: duplicates and tmpfs map', () => {
  assert.throws(() => parseMounts({ Binds: ['/a:/c', 'v:/c'] }, () => true), { message: 'Duplicate mount point: /c' });
  const all = parseMounts({ Binds: ['/a:/c'], Tmpfs: { '/run': 'size=64m,exec' } }, () => true);
  assert.deepEqual(all[1], { kind: 'tmpfs', target: '/run', options: ['nosuid', 'nodev', 'rprivate', 'size=64m', 'exec'] });
  assert.deepEqual(tmpfsOptions(['size=1', 'size=2']), ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=2']);
});

test('caps: mask parsing, bounding set from status, tweaks', () => {
  const machine = capsFromMask('000001fffeffffff');
  assert.equal(machine.length, 40);
  assert.ok(!machine.includes('CAP_SYS_RESOURCE'));
  assert.ok(machine.includes('CAP_CHECKPOINT_RESTORE'));
  assert.deepEqual(boundingCaps('Name:\tx\nCapBnd:\t0000000000000003\n'), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
  assert.deepEqual(containerCaps({ available: machine }), DEFAULT_CAPS);
  const tweaked = containerCaps({ capAdd: ['net_admin'], capDrop: ['CAP_MKNOD'], available: machine });
  assert.ok(tweaked.includes('CAP_NET_ADMIN') && !tweaked.includes('CAP_MKNOD'));
  assert.deepEqual(containerCaps({ capAdd: ['chown'], capDrop: ['ALL'], available: machine }), ['CAP_CHOWN']);
  assert.equal(containerCaps({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'], available: machine }).length, 39);
  assert.deepEqual(containerCaps({ privileged: true, available: machine }), machine);
  assert.throws(() => containerCaps({ capAdd: ['FOO'], available: machine }), { message: 'unknown capability: "CAP_FOO"' });
  assert.throws(() => containerCaps({ capAdd: ['SYS_RESOURCE'], available: machine }), {
    message: 'capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"',
  });
});

test('host: NOFILE default is capped by our own hard limit', () => {
  assert.deepEqual(defaultNofile('Max open files            20000                20000                files\n'), { soft: 20000, hard: 20000 });
  assert.deepEqual(defaultNofile('Max open files            unlimited            unlimited            files\n'), { soft: 1048576, hard: 1048576 });
});

const base = (over: Partial<SpecInput> = {}): SpecInput => ({
  args: ['echo', 'hi'],
  env: ['PATH=/bin'],
  cwd: '',
  user: { uid: 0, gid: 0, additionalGids: [0] },
  terminal: false,
  hostname: 'abc',
  rootfs: '/r',
  mounts: [],
  network: { mode: 'none' },
  availableCaps: capsFromMask('000001fffeffffff'),
  nofile: { soft: 1024, hard: 2048 },
  ...over,
});

test('spec: docker defaults', () => {
  const s = buildSpec(base());
  assert.equal(s.process.cwd, '/');
  assert.deepEqual(s.process.capabilities.bounding, DEFAULT_CAPS);
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 }]);
  assert.equal(s.process.noNewPrivileges, false);
  assert.equal(s.process.oomScoreAdj, 0);
  assert.deepEqual(s.mounts.map((m) => m.destination), ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm']);
  assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=67108864'));
  assert.deepEqual(s.linux.namespaces.map((n) => n.type), ['mount', 'network', 'uts', 'pid', 'ipc']);
  assert.deepEqual(s.linux.maskedPaths, MASKED_PATHS);
  assert.ok(s.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(s.linux.resources.devices[0], { allow: false, access: 'rwm' });
  assert.equal(s.linux.resources.devices.length, 8);
  assert.equal(s.linux.sysctl['net.ipv4.ip_unprivileged_port_start'], '0');
  assert.equal(s.process.consoleSize, undefined);
});

test('spec: host network shares the netns and skips network sysctls; path joins one', () => {
  const host = buildSpec(base({ network: { mode: 'host' } }));
  assert.ok(!host.linux.namespaces.some((n) => n.type === 'network'));
  assert.deepEqual(host.linux.sysctl, {});
  const joined = buildSpec(base({ network: { mode: 'path', path: '/run/netns/x' }, sysctls: { 'net.ipv4.ip_unprivileged_port_start': '1024' } }));
  assert.deepEqual(joined.linux.namespaces[1], { type: 'network', path: '/run/netns/x' });
  assert.equal(joined.linux.sysctl['net.ipv4.ip_unprivileged_port_start'], '1024');
});

test('spec: user mounts are sorted parents first and override defaults', () => {
  const s = buildSpec(base({
    mounts: [
      { kind: 'bind', source: '/h/deep', target: '/data/deep', readOnly: true },
      { kind: 'bind', source: '/h', target: '/data', readOnly: false, propagation: 'rslave' },
      { kind: 'tmpfs', target: '/dev/shm', options: ['size=1'] },
    ],
  }));
  const user = s.mounts.slice(-3);
  assert.deepEqual(user.map((m) => m.destination), ['/data', '/data/deep', '/dev/shm']);
  assert.deepEqual(user[0].options, ['rbind', 'rslave']);
  assert.deepEqual(user[1].options, ['rbind', 'ro', 'rprivate']);
  assert.equal(s.mounts.filter((m) => m.destination === '/dev/shm').length, 1);
});

test('spec: readonly rootfs makes default mounts ro except proc and /dev ones', () => {
  const s = buildSpec(base({ readonlyRootfs: true, mounts: [{ kind: 'bind', source: '/h', target: '/w', readOnly: false }] }));
  assert.equal(s.root.readonly, true);
  const opts = (d: string): string[] => s.mounts.find((m) => m.destination === d)?.options ?? [];
  assert.ok(!opts('/proc').includes('ro'));
  assert.ok(!opts('/dev/shm').includes('ro'));
  assert.ok(opts('/sys').includes('ro'));
  assert.ok(!opts('/w').includes('ro'));
});

test('spec: privileged gets the available caps, all devices, no masks, writable /sys', () => {
  const dev = { type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
  const s = buildSpec(base({ privileged: true, hostDevices: [dev] }));
  assert.equal(s.process.capabilities.bounding.length, 40);
  assert.ok(!s.process.capabilities.bounding.includes('CAP_SYS_RESOURCE'));
  assert.deepEqual(s.linux.devices, [dev]);
  assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
  assert.deepEqual(s.linux.maskedPaths, []);
  assert.deepEqual(s.linux.readonlyPaths, []);
  assert.ok(!s.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
  assert.throws(() => buildSpec(base({ privileged: true })), /hostDevices is required/);
});

test('spec: resources, ulimits, console size, init, cgroups', () => {
  const s = buildSpec(base({
    terminal: true,
    consoleSize: [24, 80],
    resources: { memory: 64 << 20, pidsLimit: 100, cpuShares: 512, nanoCpus: 1.5e9 },
    ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }, { Name: 'nproc', Soft: 5, Hard: 5 }],
    cgroupsPath: '/berth/abc',
    cgroupNamespace: true,
    initPath: '/usr/bin/tini',
    shmSize: 1000,
  }));
  assert.deepEqual(s.linux.resources.memory, { limit: 64 << 20, swap: 128 << 20 });
  assert.deepEqual(s.linux.resources.pids, { limit: 100 });
  assert.deepEqual(s.linux.resources.cpu, { shares: 512, period: 100000, quota: 150000 });
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 20 }, { type: 'RLIMIT_NPROC', soft: 5, hard: 5 }]);
  assert.deepEqual(s.process.consoleSize, { height: 24, width: 80 });
  assert.equal(s.linux.cgroupsPath, '/berth/abc');
  assert.equal(s.linux.namespaces.at(-1)?.type, 'cgroup');
  assert.deepEqual(s.process.args, ['/sbin/docker-init', '--', 'echo', 'hi']);
  assert.ok(s.mounts.some((m) => m.destination === '/sbin/docker-init' && m.source === '/usr/bin/tini'));
  assert.ok(s.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=1000'));
  assert.deepEqual(buildSpec(base({ resources: { memory: 100, memorySwap: -1, pidsLimit: 0 } })).linux.resources.memory, { limit: 100 });
  assert.equal(buildSpec(base({ resources: { pidsLimit: -5 } })).linux.resources.pids, undefined);
  assert.throws(() => buildSpec(base({ resources: { cpuShares: -1 } })), /invalid CPU shares/);
});
