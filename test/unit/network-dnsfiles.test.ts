import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editHosts, parseResolvConf, renderHosts, renderResolvConf } from '../../src/network/dnsfiles';

const host = parseResolvConf('# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53 # corp\nsearch example.test lab.test\noptions edns0 trust-ad\n');

test('parse resolv.conf', () => {
  assert.deepEqual(host, { nameservers: ['127.0.0.53', '192.0.2.53'], search: ['example.test', 'lab.test'], options: ['edns0', 'trust-ad'] });
});

test('default bridge copies host resolvers minus loopback; falls back like docker', () => {
  assert.equal(renderResolvConf(host, { kind: 'host-copy' }), 'search example.test lab.test\nnameserver 192.0.2.53\noptions edns0 trust-ad\n');
  assert.equal(renderResolvConf(parseResolvConf('nameserver 127.0.0.53\n'), { kind: 'host-copy' }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  assert.equal(renderResolvConf(host, { kind: 'host-copy' }, { dns: ['192.0.2.9'], dnsSearch: ['x.test'], dnsOptions: ['ndots:2'] }), 'search x.test\nnameserver 192.0.2.9\noptions ndots:2\n');
});

test('user network points at the gateway (aardvark); host network keeps the host file', () => {
  assert.equal(renderResolvConf(host, { kind: 'gateway', gateway: '10.210.0.1' }), 'search example.test lab.test\nnameserver 10.210.0.1\noptions edns0 trust-ad\n');
  assert.match(renderResolvConf(host, { kind: 'host' }), /nameserver 127\.0\.0\.53\nnameserver 192\.0\.2\.53/);
});

test('hosts: standard block, extra hosts, then own IP + hostname', () => {
  const h = renderHosts('10.209.0.2', 'abc123def456', [{ names: 'db', ip: '10.0.0.5' }, { names: 'v6', ip: '2001:db8::1' }]).split('\n');
  assert.equal(h[0], '127.0.0.1\tlocalhost');
  assert.deepEqual(h.slice(-4), ['10.0.0.5\tdb', '2001:db8::1\tv6', '10.209.0.2\tabc123def456', '']);
  assert.ok(!renderHosts(undefined, 'x').includes('\tx\n'));
});

test('hosts: one line per address; connect adds a line, disconnect removes that address only, user edits stay', () => {
  const two = renderHosts(['10.1.0.2', '10.2.0.3'], 'abc');
  assert.match(two, /\n10\.1\.0\.2\tabc\n10\.2\.0\.3\tabc\n$/);
  const edited = renderHosts('10.1.0.2', 'abc') + '192.0.2.9\tmine\n';
  const connected = editHosts(edited, { add: ['10.2.0.3'] }, 'abc');
  assert.match(connected, /\n10\.1\.0\.2\tabc\n192\.0\.2\.9\tmine\n10\.2\.0\.3\tabc\n$/);
  const disconnected = editHosts(connected, { remove: ['10.1.0.2'] }, 'abc');
  assert.doesNotMatch(disconnected, /10\.1\.0\.2/);
  assert.match(disconnected, /\n192\.0\.2\.9\tmine\n10\.2\.0\.3\tabc\n$/);
  assert.match(disconnected, /^127\.0\.0\.1\tlocalhost\n/);
  // a dual-stack network: both addresses in and out; a connect's link is an entry of its own
  const dual = editHosts(disconnected, { add: ['10.3.0.2', 'fd00:3::2'], extraHosts: [{ names: 'db other', ip: '10.3.0.9' }] }, 'abc');
  assert.match(dual, /\n10\.3\.0\.2\tabc\nfd00:3::2\tabc\n10\.3\.0\.9\tdb other\n$/);
  assert.doesNotMatch(editHosts(dual, { remove: ['10.3.0.2', 'fd00:3::2'] }, 'abc'), /10\.3\.0\.2|fd00:3::2/);
});
