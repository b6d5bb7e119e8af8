import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEFAULT_CAPS } from '../../src/spec/caps';
import { buildSpec, type SpecInput } from '../../src/spec/spec';
import {
  containerSeccomp, decodeProfile, DefaultSeccomp, DOCKER_PROFILE_PATH, loadProfile, parseSecurityOpt, PODMAN_PROFILE_PATH,
  ruleApplies, toOciSeccomp, type OciSeccomp, type SeccompHost, type SeccompProfile, type SeccompRule,
} from '../../src/spec/seccomp';

const X64: SeccompHost = { arch: 'x64', caps: DEFAULT_CAPS, kernel: '6.18.44-fc-v595' };

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-seccomp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Rules of a converted profile that name `syscall`. */
const rulesFor = (s: OciSeccomp | undefined, syscall: string) => (s?.syscalls ?? []).filter((r) => r.names.includes(syscall));
const allowed = (s: OciSeccomp | undefined, syscall: string) => rulesFor(s, syscall).some((r) => r.action === 'SCMP_ACT_ALLOW');

// ---- include/exclude logic ----

test('ruleApplies: included caps must all be held, any excluded cap drops the rule', () => {
  const inc: SeccompRule = { names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_PTRACE'] } };
  assert.equal(ruleApplies(inc, { ...X64, caps: ['CAP_SYS_ADMIN'] }), false);
  assert.equal(ruleApplies(inc, { ...X64, caps: ['CAP_SYS_PTRACE', 'CAP_SYS_ADMIN'] }), true);
  const exc: SeccompRule = { names: ['x'], action: 'SCMP_ACT_ERRNO', excludes: { caps: ['CAP_SYS_ADMIN', 'CAP_SYS_BOOT'] } };
  assert.equal(ruleApplies(exc, { ...X64, caps: ['CAP_CHOWN'] }), true);
  assert.equal(ruleApplies(exc, { ...X64, caps: ['CAP_SYS_BOOT'] }), false);
});

test('ruleApplies: arches use docker names (x64 = amd64, arm64, ia32 = x86)', () => {
  const amd: SeccompRule = { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64', 'x32'] } };
  assert.equal(ruleApplies(amd, X64), true);
  assert.equal(ruleApplies(amd, { ...X64, arch: 'arm64' }), false);
  const notMips: SeccompRule = { names: ['clone3'], action: 'SCMP_ACT_ERRNO', excludes: { arches: ['x86', 'mipsel'] } };
  assert.equal(ruleApplies(notMips, X64), true);
  assert.equal(ruleApplies(notMips, { ...X64, arch: 'ia32' }), false);
});

test('ruleApplies: minKernel compares kernel.major only, includes >= and excludes <', () => {
  const inc: SeccompRule = { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } };
  assert.equal(ruleApplies(inc, { ...X64, kernel: '4.8.0-1-amd64' }), true);
  assert.equal(ruleApplies(inc, { ...X64, kernel: '4.7.19' }), false);
  assert.equal(ruleApplies(inc, { ...X64, kernel: '5.0' }), true);
  const exc: SeccompRule = { names: ['y'], action: 'SCMP_ACT_ERRNO', excludes: { minKernel: '6.19' } };
  assert.equal(ruleApplies(exc, X64), true);
  assert.equal(ruleApplies(exc, { ...X64, kernel: '6.19-rc1' }), false);
  assert.throws(() => ruleApplies(inc, { ...X64, kernel: 'weird' }), /failed to parse kernel version "weird"/);
});

test('toOciSeccomp: archMap of the current arch, errnos, args and names kept; non-matching rules dropped', () => {
  const profile: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    archMap: [
      { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] },
      { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
    ],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] },
      { name: 'personality', action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 5, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  };
  assert.deepEqual(toOciSeccomp(profile, X64), {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, valueTwo: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 5, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  });
  const admin = toOciSeccomp(profile, { ...X64, arch: 'arm64', caps: ['CAP_SYS_ADMIN'] });
  assert.deepEqual(admin?.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.deepEqual(admin?.syscalls?.map((r) => r.names[0]), ['read', 'personality', 'mount', 'clone']);
  assert.equal(toOciSeccomp(profile, { ...X64, arch: 'riscv64' })?.architectures, undefined);
  assert.equal(toOciSeccomp({ defaultAction: '', syscalls: [] }, X64), undefined, 'an empty profile disables seccomp');
});

// ---- the real default profiles ----

test("Docker's default.json: namespace/mount syscalls only with CAP_SYS_ADMIN, clone3 ENOSYS, clone flags masked", () => {
  const docker = loadProfile(DOCKER_PROFILE_PATH);
  const def = toOciSeccomp(docker, X64);
  assert.equal(def?.defaultAction, 'SCMP_ACT_ERRNO');
  for (const sc of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'bpf', 'keyctl', 'reboot', 'init_module', 'open_by_handle_at']) {
    assert.equal(allowed(def, sc), false, `${sc} allowed with default caps`);
  }
  for (const sc of ['read', 'execve', 'chown', 'setuid', 'socket', 'arch_prctl', 'ptrace']) assert.ok(allowed(def, sc), `${sc} refused`);
  assert.deepEqual(rulesFor(def, 'clone3').map((r) => [r.action, r.errnoRet]), [['SCMP_ACT_ERRNO', 38]]);
  assert.deepEqual(rulesFor(def, 'clone').map((r) => r.args?.[0].op), ['SCMP_CMP_MASKED_EQ']);

  const admin = toOciSeccomp(docker, { ...X64, caps: [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'] });
  for (const sc of ['mount', 'unshare', 'setns', 'clone3']) assert.ok(allowed(admin, sc), `${sc} refused with CAP_SYS_ADMIN`);
  assert.equal(rulesFor(admin, 'clone3').some((r) => r.action === 'SCMP_ACT_ERRNO'), false);
  assert.equal(allowed(toOciSeccomp(docker, { ...X64, kernel: '4.4.0' }), 'ptrace'), false, 'ptrace needs kernel 4.8 without CAP_SYS_PTRACE');
  assert.equal(allowed(toOciSeccomp(docker, { ...X64, arch: 'arm64' }), 'arch_prctl'), false);
});

test("podman's seccomp.json (the fallback) converts too: EPERM rules, ENOSYS default, cap-gated chroot", () => {
  const podman = toOciSeccomp(loadProfile(PODMAN_PROFILE_PATH), X64);
  assert.equal(podman?.defaultErrnoRet, 38);
  assert.ok(allowed(podman, 'chroot'), 'CAP_SYS_CHROOT is a default cap');
  assert.deepEqual(rulesFor(podman, 'sethostname').map((r) => [r.action, r.errnoRet]), [['SCMP_ACT_ERRNO', 1]]);
});

test('DefaultSeccomp: first profile found, converted once per caps set (order-insensitive), frozen', (t) => {
  const dir = tmpdir(t);
  const file = path.join(dir, 'p.json');
  fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [
    { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
    { names: ['read'], action: 'SCMP_ACT_ALLOW' },
  ] }));
  const d = new DefaultSeccomp([path.join(dir, 'missing.json'), file], { arch: 'x64', kernel: '6.1' });
  assert.equal(d.path, file);
  const a = d.forCaps(['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  assert.equal(d.forCaps(['CAP_SYS_ADMIN', 'CAP_CHOWN']), a);
  assert.deepEqual(a?.syscalls?.map((r) => r.names[0]), ['mount', 'read']);
  assert.deepEqual(d.forCaps(['CAP_CHOWN'])?.syscalls?.map((r) => r.names[0]), ['read']);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a?.syscalls?.[0].names));
  assert.throws(() => new DefaultSeccomp([path.join(dir, 'nope.json')]), /no default seccomp profile found \(looked for .*nope\.json\)/);
});

// ---- decoding errors ----

test('decodeProfile: clear errors for bad JSON, bad shapes and docker-rejected combinations', () => {
  assert.throws(() => decodeProfile('{"defaultAction": '), /^Error: decoding seccomp profile failed: .*JSON/);
  assert.throws(() => decodeProfile('[]'), /decoding seccomp profile failed: the profile must be a JSON object/);
  assert.throws(() => decodeProfile('{"syscalls": {}}'), /decoding seccomp profile failed: syscalls must be an array/);
  assert.throws(() => decodeProfile('{"syscalls": [{"names": "read", "action": "SCMP_ACT_ALLOW"}]}'), /syscalls\[0\]\.names must be an array of strings/);
  assert.throws(() => decodeProfile('{"syscalls": [{"names": ["read"]}]}'), /syscalls\[0\]\.action must be a string/);
  assert.throws(() => decodeProfile('{"syscalls": [{"names": ["a"], "action": "A", "args": [{"index": 0, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]}]}'),
    /syscalls\[0\]\.args\[0\]\.value must be an integer in 0\.\.2\^53/);
  assert.throws(() => decodeProfile('{"syscalls": [{"names": ["a"], "action": "A", "includes": {"minKernel": "4"}}]}'),
    /syscalls\[0\]\.includes\.minKernel: invalid kernel version: "4", expected "<kernel>\.<major>"/);
  assert.throws(() => decodeProfile('{"syscalls": [{"name": "a", "names": ["b"], "action": "A"}]}'), /'name' and 'names' were specified/);
  assert.throws(() => decodeProfile('{"architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86"}]}'), /'architectures' and 'archMap' were specified/);
  assert.equal(decodeProfile('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": null, "comment": 1}').defaultAction, 'SCMP_ACT_ALLOW');
});

test('loadProfile: a missing file names the path', () => {
  assert.throws(() => loadProfile('/nonexistent/p.json'), /^Error: opening seccomp profile \(\/nonexistent\/p\.json\) failed: ENOENT/);
});

// ---- --security-opt ----

test('parseSecurityOpt: seccomp=unconfined|builtin|JSON|path, no-new-privileges, docker errors', (t) => {
  assert.deepEqual(parseSecurityOpt(null), { seccomp: 'default', noNewPrivileges: false });
  assert.deepEqual(parseSecurityOpt(['seccomp=unconfined', 'no-new-privileges']), { seccomp: 'unconfined', noNewPrivileges: true });
  assert.deepEqual(parseSecurityOpt(['seccomp:unconfined', 'seccomp=builtin']), { seccomp: 'default', noNewPrivileges: false });
  assert.equal(parseSecurityOpt(['no-new-privileges=true', 'no-new-privileges:0']).noNewPrivileges, false);
  assert.equal(parseSecurityOpt(['no-new-privileges=T']).noNewPrivileges, true);
  assert.equal(parseSecurityOpt(['label=disable', 'apparmor=unconfined', 'disable']).seccomp, 'default');

  const json = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}';
  assert.deepEqual(parseSecurityOpt([`seccomp=${json}`]).seccomp, JSON.parse(json));
  const file = path.join(tmpdir(t), 'user.json');
  fs.writeFileSync(file, json);
  assert.deepEqual(parseSecurityOpt([`seccomp=${file}`]).seccomp, JSON.parse(json));
  fs.writeFileSync(file, '{"defaultAction": ');
  assert.throws(() => parseSecurityOpt([`seccomp=${file}`]), /decoding seccomp profile failed/);
  assert.throws(() => parseSecurityOpt(['seccomp=/no/such.json']), /opening seccomp profile \(\/no\/such\.json\) failed/);

  assert.throws(() => parseSecurityOpt(['bogus']), /^Error: invalid --security-opt 1: "bogus"$/);
  assert.throws(() => parseSecurityOpt(['foo=bar']), /^Error: invalid --security-opt 2: "foo=bar"$/);
  assert.throws(() => parseSecurityOpt(['no-new-privileges=yes']), /^Error: invalid --security-opt 2: "no-new-privileges=yes"$/);
});

test('containerSeccomp + buildSpec: none for unconfined or privileged; the default or a user profile otherwise', (t) => {
  const file = path.join(tmpdir(t), 'p.json');
  fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] }));
  const defaults = new DefaultSeccomp([file]);
  const opts = { privileged: false, caps: DEFAULT_CAPS, defaults };
  assert.equal(containerSeccomp('default', opts), defaults.forCaps(DEFAULT_CAPS));
  assert.equal(containerSeccomp('unconfined', opts), undefined);
  assert.equal(containerSeccomp('default', { ...opts, privileged: true }), undefined);
  const user = containerSeccomp({ defaultAction: 'SCMP_ACT_LOG' }, opts);
  assert.equal(user?.defaultAction, 'SCMP_ACT_LOG');

  const input: SpecInput = {
    args: ['sh'], env: [], cwd: '', user: { uid: 0, gid: 0 }, terminal: false, hostname: 'h', rootfs: '/r', mounts: [],
    network: { mode: 'none' }, availableCaps: DEFAULT_CAPS, nofile: { soft: 1024, hard: 1024 }, hostDevices: [],
  };
  assert.equal(buildSpec({ ...input, seccomp: user }).linux.seccomp, user);
  assert.equal('seccomp' in buildSpec(input).linux, false);
  assert.equal('seccomp' in buildSpec({ ...input, privileged: true, seccomp: user }).linux, false);
});

// ---- for real, under crun ----

const canRunCrun = process.getuid?.() === 0 && spawnSync('crun', ['--version']).status === 0 && fs.existsSync('/bin/busybox');

/** A busybox bundle from `crun spec`, run with docker's default caps and the given seccomp. */
function runInCrun(dir: string, id: string, args: string[], seccomp: OciSeccomp | undefined) {
  const bundle = path.join(dir, id);
  const bin = path.join(bundle, 'rootfs', 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(bin, 'busybox'));
  fs.chmodSync(path.join(bin, 'busybox'), 0o755);
  const applets = spawnSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(bin, a));
  assert.equal(spawnSync('crun', ['spec'], { cwd: bundle }).status, 0);
  const config = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  config.root = { path: path.join(bundle, 'rootfs'), readonly: false };
  Object.assign(config.process, { terminal: false, args, capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS } });
  if (seccomp) config.linux.seccomp = seccomp;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
  // Hybrid cgroups: crun runs only with the cgroup2 mount hidden in a private mount namespace (stack-probe §1).
  const script = 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec crun --cgroup-manager=disabled run --bundle "$0" "$1"';
  try {
    return spawnSync('unshare', ['-m', '--propagation', 'slave', 'sh', '-c', script, bundle, id], { encoding: 'utf8', timeout: 20000 });
  } finally {
    spawnSync('crun', ['delete', '-f', id]);
  }
}

test("crun: Docker's default profile lets a shell work and refuses privileged syscalls with EPERM", { skip: !canRunCrun && 'needs root, crun and busybox' }, (t) => {
  const dir = tmpdir(t);
  const seccomp = new DefaultSeccomp([DOCKER_PROFILE_PATH]).forCaps(DEFAULT_CAPS);
  const id = (n: string) => `berth-seccomp-${process.pid}-${n}`;

  const echo = runInCrun(dir, id('echo'), ['busybox', 'echo', 'ok'], seccomp);
  assert.equal(echo.status, 0, echo.stderr);
  assert.equal(echo.stdout, 'ok\n');

  const shell = runInCrun(dir, id('shell'), ['sh', '-c', 'ls / && cat /proc/self/status'], seccomp);
  assert.equal(shell.status, 0, shell.stderr);
  assert.match(shell.stdout, /^bin$/m);
  assert.match(shell.stdout, /^Seccomp:\s+2$/m, 'the filter is installed');

  const probe = ['sh', '-c', 'unshare -U true; echo unshare=$?; mkdir /m; mount -t tmpfs t /m; echo mount=$?'];
  const refused = runInCrun(dir, id('refused'), probe, seccomp);
  assert.match(refused.stdout, /unshare=1\nmount=1/);
  assert.match(refused.stderr, /unshare\(0x10000000\): Operation not permitted/);
  // Control: the same container without seccomp can make a user namespace, so the refusal above is the profile's.
  const control = runInCrun(dir, id('control'), probe, undefined);
  assert.match(control.stdout, /unshare=0\nmount=1/, control.stderr);
});
