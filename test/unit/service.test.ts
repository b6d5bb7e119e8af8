/** Pure parts of running as a service and of remote access: activation env, socket group, log lines, ssh URLs. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activatedFds, selectFds } from '../../src/daemon/activation';
import { socketGid } from '../../src/daemon/listeners';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatLine, log, setLogFile } from '../../src/common/log';
import { parseSshUrl, sshArgs, sshFailure } from '../../src/client/ssh';
import { renderUnit } from '../../src/cli/commands/service';
import { checkName, contextName } from '../../src/cli/contexts';
import { parseDockerEndpoint } from '../../src/cli/commands/context';

describe('socket activation', () => {
  it('takes LISTEN_FDS only for this pid, named from LISTEN_FDNAMES', () => {
    const env = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'berth.socket:tls' };
    assert.deepEqual(activatedFds(env, 42), [{ fd: 3, name: 'berth.socket' }, { fd: 4, name: 'tls' }]);
    assert.deepEqual(activatedFds(env, 43), []);
    assert.deepEqual(activatedFds({ LISTEN_PID: '42', LISTEN_FDS: '1' }, 42), [{ fd: 3, name: 'unknown' }]);
    assert.deepEqual(activatedFds({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42), []);
  });
  it('selects fd://, fd://N and fd://NAME as dockerd, with a message when nothing matches', () => {
    const fds = [{ fd: 3, name: 'a' }, { fd: 4, name: 'b' }];
    assert.deepEqual(selectFds('fd://', fds), fds);
    assert.deepEqual(selectFds('fd://4', fds), [fds[1]]);
    assert.deepEqual(selectFds('fd://a', fds), [fds[0]]);
    assert.throws(() => selectFds('fd://c', fds), /no socket activated as "c" \(fd:\/\/c\); systemd passed 3 \(a\), 4 \(b\)/);
    assert.throws(() => selectFds('fd://', []), /no sockets found via socket activation/);
  });
});

describe('socket group', () => {
  const groups = 'root:x:0:\nberth:x:995:alice\nstaff:x:50:\n';
  it('defaults to berth when it exists, else root only; names and gids must exist', () => {
    assert.equal(socketGid(undefined, groups), 995);
    assert.equal(socketGid(undefined, 'root:x:0:\n'), undefined);
    assert.equal(socketGid('', groups), undefined);
    assert.equal(socketGid('staff', groups), 50);
    assert.equal(socketGid('50', groups), 50);
    assert.throws(() => socketGid('docker', groups), /group docker not found: create it \(groupadd docker\)/);
    assert.throws(() => socketGid('77', groups), /group 77 not found/);
  });
});

describe('log lines', () => {
  const t = new Date('2026-01-02T03:04:05.000Z');
  it('text and json', () => {
    assert.equal(formatLine('text', t, 'info', 'API listening', { host: 'fd://', fd: 3 }), '2026-01-02T03:04:05.000Z INFO API listening host=fd:// fd=3\n');
    assert.deepEqual(JSON.parse(formatLine('json', t, 'warn', 'x', { a: [1] })), { time: '2026-01-02T03:04:05.000Z', level: 'warn', msg: 'x', a: [1] });
  });
});

describe('ssh hosts', () => {
  it('parses ssh://[user@]host[:port] and refuses what docker refuses', () => {
    assert.deepEqual(parseSshUrl('ssh://me@example.com:2222'), { user: 'me', host: 'example.com', port: 2222 });
    assert.deepEqual(parseSshUrl('ssh://[::1]'), { host: '::1' });
    assert.throws(() => parseSshUrl('ssh://me:pw@h'), /plain-text password is not supported/);
    assert.throws(() => parseSshUrl('ssh://h/var/run/x.sock'), /extra path/);
  });
  it('runs ssh as docker does, and says what to do when it fails', () => {
    assert.deepEqual(sshArgs({ user: 'me', host: 'h', port: 22 }), ['-o', 'ConnectTimeout=30', '-o', 'BatchMode=yes', '-l', 'me', '-p', '22', '--', 'h', 'berth', 'system', 'dial-stdio']);
    assert.match(sshFailure({ host: 'h' }, 127, 'sh: 1: berth: not found\n'), /^error during connect: berth is not installed on ssh:\/\/h .*install Berth there/);
    assert.match(sshFailure({ host: 'h', port: 1 }, 255, 'ssh: connect to host h port 1: Connection refused\n'), /cannot ssh to ssh:\/\/h:1: ssh: connect to host h port 1: Connection refused; check the host/);
  });
});

it('unit templates get the path of berthd', () => {
  assert.equal(renderUnit('ExecStart=@BERTHD@ -H fd://\n', '/opt/berth/bin/berthd'), 'ExecStart=/opt/berth/bin/berthd -H fd://\n');
});

describe('contexts', () => {
  it('are chosen as docker chooses: --context, -H/DOCKER_HOST, DOCKER_CONTEXT, config.json, default', () => {
    assert.equal(contextName({ context: 'a' }, { DOCKER_HOST: 'unix:///x', DOCKER_CONTEXT: 'b' }, 'c'), 'a');
    assert.equal(contextName({ host: 'unix:///x' }, { DOCKER_CONTEXT: 'b' }, 'c'), 'default');
    assert.equal(contextName({}, { DOCKER_HOST: 'unix:///x', DOCKER_CONTEXT: 'b' }, 'c'), 'default');
    assert.equal(contextName({}, { DOCKER_CONTEXT: 'b' }, 'c'), 'b');
    assert.equal(contextName({}, {}, 'c'), 'c');
    assert.equal(contextName({}, {}, ''), 'default');
    assert.throws(() => contextName({ context: 'a', host: 'tcp://h' }, {}, ''), /conflicting options: either specify --host or --context, not both/);
  });
  it('names and --docker endpoints are checked', () => {
    assert.throws(() => checkName('default'), /reserved/);
    assert.throws(() => checkName('../x'), /is invalid/);
    assert.deepEqual(parseDockerEndpoint('host=ssh://u@h,skip-tls-verify=true'), { Host: 'ssh://u@h', SkipTLSVerify: true, tls: {} });
    assert.throws(() => parseDockerEndpoint('hots=tcp://h'), /unrecognized config key: hots/);
    assert.throws(() => parseDockerEndpoint('host=http://h'), /unable to parse docker host "http:\/\/h"/);
    assert.throws(() => parseDockerEndpoint('host=tcp://h,ca=/nonexistent.pem'), /unable to read ca file \/nonexistent.pem: ENOENT/);
  });
});

it('a log file is rotated at its size cap, keeping the given number of old files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-logrot-'));
  try {
    const file = path.join(dir, 'berthd.log');
    setLogFile(file, 200, 2);
    for (let i = 0; i < 20; i++) log.info(`line ${i}`, { pad: 'x'.repeat(40) });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['berthd.log', 'berthd.log.1', 'berthd.log.2']);
    for (const f of fs.readdirSync(dir)) assert.ok(fs.statSync(path.join(dir, f)).size <= 200, f);
    assert.match(fs.readFileSync(file, 'utf8'), /line 19 /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
