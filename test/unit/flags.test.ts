import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError, flagUsages, parseFlags, parseGoInt, type FlagSpec } from '../../src/cli/flags';
import { buildCreateRequest, containerFlags, nanoCpus, parseEnvFile, parseMount, parsePortSpec, parseRestart } from '../../src/cli/commands/container-opts';
import { detachKeyBytes, EscapeScanner } from '../../src/cli/commands/attach';
import { parseImageRef, familiarWithTag } from '../../src/cli/refname';
import { sinceParam } from '../../src/cli/commands/timeparam';

const runFlags: FlagSpec[] = [
  ...containerFlags,
  { name: 'detach', short: 'd', kind: 'bool', usage: '' },
  { name: 'sig-proxy', kind: 'bool', usage: '', default: true },
];
const run = (...argv: string[]) => parseFlags(argv, runFlags, false);
const errOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof FlagError, `expected FlagError, got ${e}`);
    return e.message;
  }
  assert.fail('no error');
};

test('short flags combine, take attached values, and bools stack', () => {
  const p = run('-dit', '-p5000:5000', '-eA=1', 'busybox');
  assert.equal(p.values.detach, true);
  assert.equal(p.values.interactive, true);
  assert.equal(p.values.tty, true);
  assert.deepEqual(p.values.publish, ['5000:5000']);
  assert.deepEqual(p.values.env, ['A=1']);
  assert.deepEqual(p.args, ['busybox']);
});

test('long flags with = or a separate value; repeated list flags accumulate', () => {
  const p = run('--name=web', '--workdir', '/app', '-e', 'A=1', '--env', 'B=2', '-v', '/a:/a', '-v', '/b:/b', 'img');
  assert.equal(p.values.name, 'web');
  assert.equal(p.values.workdir, '/app');
  assert.deepEqual(p.values.env, ['A=1', 'B=2']);
  assert.deepEqual(p.values.volume, ['/a:/a', '/b:/b']);
  assert.ok(p.changed.has('name') && !p.changed.has('user'));
});

test('bool flags take =false, defaults apply, and a value after a bool is positional', () => {
  const p = run('--rm=false', '--sig-proxy=false', '--init', 'img', 'x');
  assert.equal(p.values.rm, false);
  assert.equal(p.values['sig-proxy'], false);
  assert.equal(p.values.init, true);
  assert.equal(run('img').values['sig-proxy'], true);
  assert.deepEqual(p.args, ['img', 'x']);
});

test('flags stop at the first positional when not interspersed; -- ends flags', () => {
  assert.deepEqual(run('-d', 'busybox', 'ls', '-l', '--rm').args, ['busybox', 'ls', '-l', '--rm']);
  const specs: FlagSpec[] = [{ name: 'all', short: 'a', kind: 'bool', usage: '' }];
  const p = parseFlags(['x', '-a', 'y'], specs);
  assert.equal(p.values.all, true);
  assert.deepEqual(p.args, ['x', 'y']);
  assert.deepEqual(parseFlags(['--', '-a'], specs).args, ['-a']);
});

test('a value-taking flag consumes the next argument even if it starts with -', () => {
  assert.equal(run('--entrypoint', '-x', 'img').values.entrypoint, '-x');
});

test("pflag's error texts", () => {
  assert.equal(errOf(() => run('--foo', 'img')), 'unknown flag: --foo');
  assert.equal(errOf(() => run('-z', 'img')), "unknown shorthand flag: 'z' in -z");
  assert.equal(errOf(() => run('-dz', 'img')), "unknown shorthand flag: 'z' in -z");
  assert.equal(errOf(() => run('--name')), 'flag needs an argument: --name');
  assert.equal(errOf(() => run('-e')), "flag needs an argument: 'e' in -e");
  assert.equal(errOf(() => run('--rm=maybe', 'img')), 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax');
  assert.equal(errOf(() => run('--stop-timeout', 'x', 'img')), 'invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid syntax');
  assert.equal(errOf(() => run('-m', '12q', 'img')), `invalid argument "12q" for "-m, --memory" flag: invalid size: '12q'`);
  assert.equal(errOf(() => run('--cpus', 'abc', 'img')), 'invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number');
  assert.equal(errOf(() => run('-e', '=x', 'img')), 'invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x');
  assert.equal(errOf(() => run('---x')), 'bad flag syntax: ---x');
});

test('--help always, -h only when the command has no -h of its own', () => {
  assert.equal(run('--help').help, true);
  const p = run('-h', 'box', 'img');
  assert.equal(p.help, false);
  assert.equal(p.values.hostname, 'box');
  assert.equal(parseFlags(['-h'], [{ name: 'all', short: 'a', kind: 'bool', usage: '' }]).help, true);
});

test('parseGoInt follows strconv.ParseInt(s, 0, 64)', () => {
  assert.equal(parseGoInt('42'), 42);
  assert.equal(parseGoInt('-1'), -1);
  assert.equal(parseGoInt('0x10'), 16);
  assert.equal(parseGoInt('010'), 8);
  assert.throws(() => parseGoInt('1.5'), /invalid syntax/);
});

test('flagUsages aligns like pflag and shows non-zero defaults', () => {
  const text = flagUsages([
    { name: 'detach', short: 'd', kind: 'bool', usage: 'Run in background' },
    { name: 'add-host', kind: 'list', usage: 'Add a host' },
    { name: 'restart', kind: 'string', usage: 'Restart policy', default: 'no' },
    { name: 'sig-proxy', kind: 'bool', usage: 'Proxy signals', default: true },
    { name: 'secret', kind: 'bool', usage: 'x', hidden: true },
  ]);
  assert.equal(text,
    '      --add-host list    Add a host\n' +
    '  -d, --detach           Run in background\n' +
    '      --restart string   Restart policy (default "no")\n' +
    '      --sig-proxy        Proxy signals (default true)\n');
});

/* ------------------------------------------------ create body (trace §3-§5) */

const ctx = { env: { HOME_VAR: 'h' } as NodeJS.ProcessEnv, cwd: '/home/me', consoleSize: [24, 80] as [number, number], detach: false };

test('run -d --name web -v -p builds the body docker sends (trace §3)', () => {
  const { name, body } = buildCreateRequest(run('-d', '--name', 'web', '-v', '/home/me/webapp:/app', '-p', '5000:5000', 'busybox', 'httpd', '-f', '-p', '5000', '-h', '/app'), { ...ctx, detach: true });
  assert.equal(name, 'web');
  assert.deepEqual(Object.keys(body), ['Hostname', 'Domainname', 'User', 'AttachStdin', 'AttachStdout', 'AttachStderr', 'ExposedPorts', 'Tty',
    'OpenStdin', 'StdinOnce', 'Env', 'Cmd', 'Image', 'Volumes', 'WorkingDir', 'Entrypoint', 'OnBuild', 'Labels', 'HostConfig', 'NetworkingConfig']);
  assert.equal(body.AttachStdout, false);
  assert.equal(body.AttachStderr, false);
  assert.deepEqual(body.ExposedPorts, { '5000/tcp': {} });
  assert.equal(body.Env, null);
  assert.equal(body.Entrypoint, null);
  assert.deepEqual(body.Cmd, ['httpd', '-f', '-p', '5000', '-h', '/app']);
  assert.equal(body.Image, 'busybox');
  assert.deepEqual(body.Volumes, {});
  assert.deepEqual(body.Labels, {});
  const hc = body.HostConfig as Record<string, unknown>;
  assert.deepEqual(hc.Binds, ['/home/me/webapp:/app']);
  assert.deepEqual(hc.PortBindings, { '5000/tcp': [{ HostIp: '', HostPort: '5000' }] });
  assert.equal(hc.NetworkMode, 'default');
  assert.deepEqual(hc.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(hc.AutoRemove, false);
  assert.deepEqual(hc.ConsoleSize, [0, 0]);
  assert.equal(hc.MemorySwappiness, -1);
  assert.equal(hc.PidsLimit, null);
  assert.ok(!('Init' in hc) && !('Mounts' in hc) && !('Tmpfs' in hc));
  const ep = (body.NetworkingConfig as { EndpointsConfig: Record<string, Record<string, unknown>> }).EndpointsConfig;
  assert.deepEqual(Object.keys(ep), ['default']);
  assert.equal(Object.keys(ep.default).length, 15);
});

test('run -it sets the attach/TTY fields and ConsoleSize (trace §4)', () => {
  const { body } = buildCreateRequest(run('-it', 'busybox', 'sh'), ctx);
  assert.equal(body.AttachStdin, true);
  assert.equal(body.AttachStdout, true);
  assert.equal(body.Tty, true);
  assert.equal(body.OpenStdin, true);
  assert.equal(body.StdinOnce, true);
  assert.deepEqual((body.HostConfig as Record<string, unknown>).ConsoleSize, [24, 80]);
});

test('run --rm, --network, named volumes, env, labels, entrypoint, limits', () => {
  const files: Record<string, string> = { '/e': '# c\nFILE=1\n  HOME_VAR\nUNSET\n', '/l': 'a=1\nb\n' };
  const { body } = buildCreateRequest(run('--rm', '--network', 'mynet', '-v', 'myvol:/data', '-v', '/anon', '-v', './rel:/r',
    '--env-file', '/e', '-e', 'X=1', '-e', 'HOME_VAR', '-e', 'NOPE', '--label-file', '/l', '-l', 'c=3', '--entrypoint', '',
    '-m', '512m', '--cpus', '1.5', '--pids-limit', '100', '--init', '--tmpfs', '/run:size=64m', '--restart', 'no',
    '--stop-timeout', '5', '--add-host', 'db=10.0.0.2', '--cap-add', 'NET_ADMIN', '-u', '1000:1000', 'busybox'),
  { ...ctx, readFile: (f) => files[f] });
  const hc = body.HostConfig as Record<string, unknown>;
  assert.equal(hc.AutoRemove, true);
  assert.equal(hc.NetworkMode, 'mynet');
  assert.deepEqual((body.NetworkingConfig as Record<string, unknown>).EndpointsConfig, {});
  assert.deepEqual(hc.Binds, ['myvol:/data', '/home/me/rel:/r']);
  assert.deepEqual(body.Volumes, { '/anon': {} });
  assert.deepEqual(body.Env, ['FILE=1', 'HOME_VAR=h', 'X=1', 'HOME_VAR=h', 'NOPE']);
  assert.deepEqual(body.Labels, { a: '1', b: '', c: '3' });
  assert.deepEqual(body.Entrypoint, ['']);
  assert.equal(body.Cmd, null);
  assert.equal(hc.Memory, 512 * 1024 * 1024);
  assert.equal(hc.NanoCpus, 1_500_000_000);
  assert.equal(hc.PidsLimit, 100);
  assert.equal(hc.Init, true);
  assert.deepEqual(hc.Tmpfs, { '/run': 'size=64m' });
  assert.equal(body.StopTimeout, 5);
  assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(hc.CapAdd, ['NET_ADMIN']);
  assert.equal(body.User, '1000:1000');
});

test('conflicting and malformed run options fail with docker wording', () => {
  assert.throws(() => buildCreateRequest(run('--rm', '--restart', 'always', 'img'), ctx), /conflicting options: cannot specify both --restart and --rm/);
  assert.throws(() => buildCreateRequest(run('-a', 'stdout', 'img'), { ...ctx, detach: true }), /cannot specify both --attach and --detach/);
  assert.throws(() => buildCreateRequest(run('-p', '90:80-81', 'img'), ctx), /invalid ranges specified for container and host Ports: 80-81 and 90/);
  assert.throws(() => buildCreateRequest(run('-p', 'abc', 'img'), ctx), /invalid containerPort: abc/);
});

test('-a picks the attached streams', () => {
  const { body } = buildCreateRequest(run('-a', 'stdout', 'img'), ctx);
  assert.deepEqual([body.AttachStdin, body.AttachStdout, body.AttachStderr], [false, true, false]);
});

test('parsePortSpec follows nat.ParsePortSpec', () => {
  assert.deepEqual(parsePortSpec('5000'), [{ port: '5000/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/UDP'), [{ port: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('[::1]:80:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '80' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81').map((x) => [x.port, x.binding.HostPort]), [['80/tcp', '8000'], ['81/tcp', '8001']]);
  assert.deepEqual(parsePortSpec('8000-8010:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } }]);
  assert.throws(() => parsePortSpec('1.2.3:80:80'), /invalid IP address: 1.2.3/);
  assert.throws(() => parsePortSpec('80/foo'), /invalid proto: foo/);
});

test('--mount, --restart, --cpus, env files', () => {
  assert.deepEqual(parseMount('type=bind,src=/a,dst=/b,ro'), { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true });
  assert.deepEqual(parseMount('type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777'), { Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1048576, Mode: 0o1777 } });
  assert.deepEqual(parseMount('source=v,target=/d'), { Type: 'volume', Source: 'v', Target: '/d' });
  assert.throws(() => parseMount('type=bind,src=/a'), /target is required/);
  assert.throws(() => parseMount('type=bind,foo=1,target=/x'), /unexpected key 'foo'/);
  assert.deepEqual(parseRestart('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.throws(() => parseRestart(':3'), /no policy provided before colon/);
  assert.throws(() => parseRestart('always:x'), /maximum retry count must be an integer/);
  assert.equal(nanoCpus('0.5'), 500_000_000);
  assert.equal(nanoCpus('2'), 2_000_000_000);
  assert.throws(() => nanoCpus('0.0000000001'), /too precise/);
  assert.deepEqual(parseEnvFile('A=1\r\n#x\n\nB\n', { B: 'b' }), ['A=1', 'B=b']);
  assert.throws(() => parseEnvFile('A B=1\n'), /contains whitespaces/);
});

test('detach keys and the escape scanner', () => {
  assert.deepEqual([...detachKeyBytes('ctrl-p,ctrl-q')], [16, 17]);
  assert.deepEqual([...detachKeyBytes('a,ctrl-[,ctrl-@')], [97, 27, 0]);
  assert.throws(() => detachKeyBytes('ctrl-1'), /Unknown character/);
  const s = new EscapeScanner(Buffer.from([16, 17]));
  assert.deepEqual(s.feed(Buffer.from('ab')), [Buffer.from('ab'), false]);
  assert.deepEqual(s.feed(Buffer.from([16])), [Buffer.alloc(0), false]); // held back
  assert.deepEqual(s.feed(Buffer.from('x')), [Buffer.from([16, 120]), false]); // released when broken
  assert.deepEqual(s.feed(Buffer.from([1, 16, 17, 2])), [Buffer.from([1]), true]);
});

test('image references are normalised like distribution/reference', () => {
  assert.deepEqual(parseImageRef('busybox'), { name: 'docker.io/library/busybox', familiar: 'busybox', tag: undefined, digest: undefined });
  assert.deepEqual(parseImageRef('127.0.0.1:5000/mywebapp:v1'), { name: '127.0.0.1:5000/mywebapp', familiar: '127.0.0.1:5000/mywebapp', tag: 'v1', digest: undefined });
  assert.equal(parseImageRef('me/app').name, 'docker.io/me/app');
  assert.equal(familiarWithTag(parseImageRef('busybox')), 'busybox:latest');
  assert.throws(() => parseImageRef('Busybox'), /must be lowercase/);
  assert.throws(() => parseImageRef('a:b:c'), /invalid reference format/);
});

test('--since/--until values', () => {
  assert.equal(sinceParam('1700000000', 0), '1700000000');
  assert.equal(sinceParam('10m', 1_700_000_600_000), '1700000000.000000000');
  assert.equal(sinceParam('2023-11-14T22:13:20Z', 0), '1700000000.000000000');
  assert.throws(() => sinceParam('yesterday', 0), /failed to parse/);
});
