/** Pure parts of the API edge: typed body decoding, query helpers, the browser guard, listener plans, fail-closed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ApiError } from '../../src/common/errors';
import { CREATE_CONTAINER, decodeBody, EXEC_CONFIG } from '../../src/api/decode';
import { parseJsonBody, qFilters, qInt, qTimestamp } from '../../src/api/http';
import { Router } from '../../src/api/router';
import { browserRefusal, hostName } from '../../src/api/server';
import { parseDaemonArgs, type DaemonConfig, type TlsConfig } from '../../src/daemon/config';
import { planListener } from '../../src/daemon/listeners';
import { resolveHost } from '../../src/client/engine';

const status400 = (want: RegExp) => (e: unknown) => e instanceof ApiError && e.status === 400 && want.test(e.message);

test('decoding refuses wrong types with the field path and keeps what it does not describe', () => {
  assert.throws(() => decodeBody({ Cmd: 5 }, CREATE_CONTAINER), status400(/cannot unmarshal number into Go value of type strslice.StrSlice \(field Cmd\)/));
  assert.throws(() => decodeBody({ HostConfig: 'x' }, CREATE_CONTAINER), status400(/unmarshal string .*\(field HostConfig\)/));
  assert.throws(() => decodeBody({ Env: [1] }, CREATE_CONTAINER), status400(/\(field Env\[0\]\)/));
  assert.throws(() => decodeBody({ HostConfig: { Memory: 1.5 } }, CREATE_CONTAINER), status400(/int64 \(field HostConfig.Memory\)/));
  assert.throws(() => decodeBody({ HostConfig: { Mounts: [{ ReadOnly: 'yes' }] } }, CREATE_CONTAINER), status400(/field HostConfig.Mounts\[0\].ReadOnly/));
  assert.throws(() => decodeBody({ NetworkingConfig: { EndpointsConfig: { n: { Aliases: 'a' } } } }, CREATE_CONTAINER), status400(/EndpointsConfig.n.Aliases/));
  assert.throws(() => decodeBody({ Cmd: 'ls' }, EXEC_CONFIG), status400(/\(field Cmd\)/));
  const out = decodeBody<Record<string, unknown>>({ Cmd: 'true', Entrypoint: null, Unknown: { x: 1 }, HostConfig: { Binds: null, Future: 5 } }, CREATE_CONTAINER);
  assert.deepEqual(out, { Cmd: ['true'], Entrypoint: null, Unknown: { x: 1 }, HostConfig: { Binds: null, Future: 5 } });
});

test('a body must be a JSON object; null and empty give the fallback', () => {
  assert.deepEqual(parseJsonBody(Buffer.from(''), { d: 1 }, { fields: {} }), { d: 1 });
  assert.deepEqual(parseJsonBody(Buffer.from('null'), { d: 1 }, { fields: {} }), { d: 1 });
  assert.throws(() => parseJsonBody(Buffer.from('[1]'), {}, { fields: {} }), status400(/expected a JSON object, got array/));
  assert.throws(() => parseJsonBody(Buffer.from('"s"'), {}, { fields: {} }), status400(/got string/));
  assert.throws(() => parseJsonBody(Buffer.from('{'), {}, { fields: {} }), status400(/invalid JSON body/));
});

test('query integers and filters are checked', () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(qInt(q('t=10'), 't'), 10);
  assert.equal(qInt(q('t=-1'), 't'), -1);
  assert.equal(qInt(q('t='), 't'), undefined);
  for (const bad of ['abc', '1.5', '1e3', '0x10', ' 1']) assert.throws(() => qInt(q(`t=${encodeURIComponent(bad)}`), 't'), status400(/invalid value for t/));
  assert.deepEqual(qFilters(q('filters=null')), {});
  assert.deepEqual(qFilters(q(`filters=${encodeURIComponent('{"a":["x"],"b":{"y":true,"z":false}}')}`)), { a: ['x'], b: ['y'] });
  for (const bad of ['5', '[]', '"s"', '{"a":[1]}', '{"a":"x"}', 'nope']) assert.throws(() => qFilters(q(`filters=${encodeURIComponent(bad)}`)), status400(/invalid filter/));
});

test('times in the query (events, logs) and path %-escapes: a bad one is a 400, not ignored and not a 500', () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.equal(qTimestamp(q('since=1.5'), 'since'), 1_500_000_000n);
  assert.equal(qTimestamp(q('since='), 'since'), undefined);
  assert.equal(qTimestamp(q('until=2020-01-01T00:00:00Z'), 'until'), 1_577_836_800_000_000_000n);
  for (const bad of ['garbage', '1e3', '-', 'NaN']) assert.throws(() => qTimestamp(q(`until=${bad}`), 'until'), status400(/invalid value for until/));
  const r = new Router();
  r.add('GET', '/containers/{id}/json', async () => undefined);
  assert.deepEqual(r.match('GET', '/containers/%E0%A4%A/json'), { status: 400, message: 'invalid URL escape in "%E0%A4%A"' });
  assert.deepEqual((r.match('GET', '/containers/a%20b/json') as { params: unknown }).params, { id: 'a b' });
});

test('the browser guard: Origin always, Host only where the listener names its hosts', () => {
  assert.equal(hostName('[::1]:2375'), '::1');
  assert.equal(hostName('LocalHost:1'), 'localhost');
  assert.equal(hostName('127.0.0.1'), '127.0.0.1');
  assert.match(browserRefusal({ origin: 'null' }) ?? '', /requests from web pages/);
  assert.equal(browserRefusal({ host: 'evil.example' }), undefined);
  const allowed = ['localhost', '127.0.0.1', '::1'];
  assert.equal(browserRefusal({ host: '127.0.0.1:2375' }, allowed), undefined);
  assert.equal(browserRefusal({}, allowed), undefined);
  assert.match(browserRefusal({ host: 'evil.example:2375' }, allowed) ?? '', /not an address of this listener/);
  assert.match(browserRefusal({ host: '127.0.0.1.evil.example' }, allowed) ?? '', /not an address/);
});

const TLS_OFF: TlsConfig = { verify: false, caCert: 'ca', cert: 'c', key: 'k' };

test('listener plans: TCP needs TLS, or --tls=false on loopback', () => {
  assert.deepEqual(planListener('unix:///run/x.sock', TLS_OFF), { kind: 'unix', path: '/run/x.sock' });
  assert.throws(() => planListener('unix://rel.sock', TLS_OFF), /must be absolute/);
  assert.throws(() => planListener('tcp://127.0.0.1:2375', TLS_OFF), /without TLS .*--tls=false on a loopback address/);
  assert.throws(() => planListener('tcp://0.0.0.0:2375', { ...TLS_OFF, enabled: false }), /refusing to listen on tcp:\/\/0.0.0.0:2375 without TLS: it is not a loopback/);
  assert.throws(() => planListener('tcp://[::]:2375', { ...TLS_OFF, enabled: false }), /not a loopback/);
  assert.throws(() => planListener('ssh://host', TLS_OFF), /unsupported host/);
  assert.deepEqual(planListener('tcp://127.0.0.1:2375', { ...TLS_OFF, enabled: false }), {
    kind: 'tcp', host: '127.0.0.1', port: 2375, tls: false, verify: false, allowedHosts: ['localhost', '127.0.0.1', '::1'],
  });
  assert.deepEqual(planListener('tcp://[::1]', { ...TLS_OFF, enabled: false }), {
    kind: 'tcp', host: '::1', port: 2375, tls: false, verify: false, allowedHosts: ['localhost', '127.0.0.1', '::1'],
  });
  assert.deepEqual(planListener('tcp://0.0.0.0', { ...TLS_OFF, enabled: true, verify: true }), { kind: 'tcp', host: '0.0.0.0', port: 2376, tls: true, verify: true });
});

test('daemon flags: --tls and --tlsverify as Go booleans, /etc/berth defaults', () => {
  const tlsOf = (args: string[]) => (parseDaemonArgs(args) as DaemonConfig).tls;
  assert.deepEqual(tlsOf([]), { enabled: undefined, verify: false, caCert: '/etc/berth/ca.pem', cert: '/etc/berth/cert.pem', key: '/etc/berth/key.pem' });
  assert.equal(tlsOf(['--tls=false']).enabled, false);
  assert.equal(tlsOf(['--tls']).enabled, true);
  assert.deepEqual([tlsOf(['--tlsverify']).enabled, tlsOf(['--tlsverify']).verify], [true, true]);
  assert.equal(tlsOf(['--tlsverify=false', '--tls=false']).verify, false);
  assert.equal(tlsOf(['--tlscacert', '/x/ca.pem']).caCert, '/x/ca.pem');
  assert.throws(() => parseDaemonArgs(['--tls=maybe']), /invalid boolean value "maybe" for --tls/);
});

test('the client resolves tcp:// hosts with docker\'s TLS rules', () => {
  assert.deepEqual(resolveHost({}, {}), { endpoint: { socketPath: '/run/berth/berth.sock' }, explicit: false });
  assert.deepEqual(resolveHost({ DOCKER_HOST: 'unix:///x.sock' }).endpoint, { socketPath: '/x.sock' });
  assert.deepEqual(resolveHost({ DOCKER_HOST: 'tcp://127.0.0.1:2375' }).endpoint, { host: '127.0.0.1', port: 2375 });
  assert.deepEqual(resolveHost({}, { host: 'tcp://[::1]' }).endpoint, { host: '::1', port: 2375 });
  // --tls without certificates: TLS, no client cert, server not verified
  const tlsOnly = resolveHost({ DOCKER_CERT_PATH: '/nonexistent' }, { host: 'tcp://h', tls: true }).endpoint;
  assert.deepEqual(tlsOnly, { host: 'h', port: 2376, tls: { verify: false, ca: undefined, cert: undefined, key: undefined } });
  // verification needs the files: a clear error naming the missing one
  assert.throws(() => resolveHost({ DOCKER_HOST: 'tcp://h:1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' }), /could not read TLS file \/nonexistent\/ca.pem: ENOENT/);
  assert.throws(() => resolveHost({}, { host: 'tcp://h:1', tlsverify: true, tlscacert: '/no/ca.pem' }), /\/no\/ca.pem/);
  // an explicit --tlsverify=false beats DOCKER_TLS_VERIFY
  assert.deepEqual(resolveHost({ DOCKER_TLS_VERIFY: '1' }, { host: 'tcp://h:1', tlsverify: false }).endpoint, { host: 'h', port: 1 });
  assert.deepEqual(resolveHost({ DOCKER_HOST: 'ssh://u@h:2' }).endpoint, { ssh: { user: 'u', host: 'h', port: 2 } });
  assert.throws(() => resolveHost({ DOCKER_HOST: 'npipe:////./pipe/x' }), /unsupported DOCKER_HOST .*: use unix:\/\/, tcp:\/\/ or ssh:\/\//);
});

test('fail closed: an uncaught exception or unhandled rejection logs and exits non-zero', () => {
  const mod = path.resolve(__dirname, '../../src/daemon/fail-closed.js');
  for (const [what, code] of [['uncaught exception', "setTimeout(() => { throw new Error('boom') })"], ['unhandled rejection', "Promise.reject(new Error('boom'))"]]) {
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(mod)}).installFailClosed(); ${code}; setTimeout(() => process.exit(0), 5000)`]);
    assert.equal(r.status, 1, r.stderr.toString());
    assert.match(r.stderr.toString(), new RegExp(`ERROR ${what}: exiting so that the next start reconciles.*Error: boom`, 's'));
  }
});
