import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  FreePortFinder, checkPortConflicts, dockerListPorts, dockerPortMap, hostPortFinder, parsePortKey, resolvePortMappings, toNetavarkPorts,
} from '../../src/network/ports';
import { publish } from '../helpers/spec';

/** Deterministic finder: hands out 40000, 40001, ...; inside a range, its first port. */
function fakeFinder(): FreePortFinder {
  let next = 40000;
  return async (_proto, _ip, range) => (range ? range[0] : next++);
}

test('port keys', () => {
  assert.deepEqual(parsePortKey('5000/tcp'), { start: 5000, end: 5000, proto: 'tcp' });
  assert.deepEqual(parsePortKey('53/UDP'), { start: 53, end: 53, proto: 'udp' });
  assert.deepEqual(parsePortKey('8000-8002'), { start: 8000, end: 8002, proto: 'tcp' });
  for (const bad of ['0/tcp', '70000/tcp', '80/icmp', '90-80/tcp', 'x/tcp', '80/tcp/x']) assert.throws(() => parsePortKey(bad), /invalid/, bad);
});

test('bindings from the API: fixed, random, host range, per-binding host IP', async () => {
  const m = await resolvePortMappings(publish({ '5000/tcp': {}, '53/udp': {} }, { '5000/tcp': [{ HostIp: '', HostPort: '5000' }, { HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostIp: '0.0.0.0', HostPort: '9000-9010' }] }, false), fakeFinder());
  assert.deepEqual(m, [
    { hostIp: '', hostPort: 5000, containerPort: 5000, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPort: 40000, containerPort: 5000, protocol: 'tcp' },
    { hostIp: '', hostPort: 9000, containerPort: 53, protocol: 'udp' },
  ]);
  const ranged = await resolvePortMappings(publish(null, { '80-82/tcp': [{ HostPort: '8080-8082' }] }, false), fakeFinder());
  assert.deepEqual(ranged.map((x) => `${x.hostPort}->${x.containerPort}`), ['8080->80', '8081->81', '8082->82']);
  await assert.rejects(resolvePortMappings(publish(null, { '80-82/tcp': [{ HostPort: '8080-8081' }] }, false), fakeFinder()), /differ in size/);
  await assert.rejects(resolvePortMappings(publish(null, { '80/tcp': [{ HostIp: '::', HostPort: '1' }] }, false), fakeFinder()), /only IPv4/);
  await assert.rejects(resolvePortMappings(publish(null, { '80/tcp': [{ HostPort: '5' }], '81/tcp': [{ HostPort: '5' }] }, false), fakeFinder()), /port is already allocated/);
});

test('-P publishes every exposed port not bound explicitly', async () => {
  const m = await resolvePortMappings(publish({ '80/tcp': {}, '443/tcp': {}, '53/udp': {} }, { '80/tcp': [{ HostPort: '8080' }] }, true), fakeFinder());
  assert.deepEqual(m.map((x) => `${x.hostPort}->${x.containerPort}/${x.protocol}`), ['8080->80/tcp', '40000->443/tcp', '40001->53/udp']);
  assert.deepEqual(await resolvePortMappings(publish({ '80/tcp': {} }, null, false), fakeFinder()), []);
});

test('conflicts with other endpoints: same proto+port, overlapping host IP', () => {
  const a = { hostIp: '', hostPort: 5000, containerPort: 80, protocol: 'tcp' as const };
  assert.throws(() => checkPortConflicts([a], [{ ...a, hostIp: '127.0.0.1' }]), /Bind for 0.0.0.0:5000 failed: port is already allocated/);
  checkPortConflicts([a], [{ ...a, protocol: 'udp' }]);
  checkPortConflicts([{ ...a, hostIp: '127.0.0.1' }], [{ ...a, hostIp: '127.0.0.2' }]);
});

test('netavark port_mappings fold consecutive runs', () => {
  const ms = [82, 80, 81, 90].map((p) => ({ hostIp: '', hostPort: p + 8000, containerPort: p, protocol: 'tcp' as const }));
  assert.deepEqual(toNetavarkPorts(ms), [
    { host_ip: '', container_port: 80, host_port: 8080, range: 3, protocol: 'tcp' },
    { host_ip: '', container_port: 90, host_port: 8090, range: 1, protocol: 'tcp' },
  ]);
  assert.deepEqual(toNetavarkPorts([{ hostIp: '', hostPort: 9, containerPort: 80, protocol: 'tcp' }, { hostIp: '', hostPort: 11, containerPort: 81, protocol: 'tcp' }]).length, 2);
});

test('docker shapes: NetworkSettings.Ports and list Ports', () => {
  const ms = [{ hostIp: '', hostPort: 5000, containerPort: 5000, protocol: 'tcp' as const }, { hostIp: '127.0.0.1', hostPort: 5001, containerPort: 5000, protocol: 'tcp' as const }];
  assert.deepEqual(dockerPortMap({ '5000/tcp': {}, '6000/udp': {} }, ms), {
    '5000/tcp': [{ HostIp: '0.0.0.0', HostPort: '5000' }, { HostIp: '127.0.0.1', HostPort: '5001' }],
    '6000/udp': null,
  });
  assert.deepEqual(dockerListPorts({ '5000/tcp': {}, '6000/udp': {} }, ms), [
    { IP: '0.0.0.0', PrivatePort: 5000, PublicPort: 5000, Type: 'tcp' },
    { IP: '127.0.0.1', PrivatePort: 5000, PublicPort: 5001, Type: 'tcp' },
    { PrivatePort: 6000, Type: 'udp' },
  ]);
});

test('real finder: kernel-chosen port, skips taken ones and busy ones in a range', async () => {
  const p = await hostPortFinder(new Set())('tcp', '127.0.0.1');
  assert.ok(p > 1024);
  const udp = await hostPortFinder(new Set())('udp', '127.0.0.1');
  assert.ok(udp > 1024);
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as net.AddressInfo).port;
  try {
    // other processes may hold ports near ours, so only the skipped ones are asserted
    const got = await hostPortFinder(new Set([`tcp/${port + 1}`]))('tcp', '127.0.0.1', [port, port + 20]);
    assert.ok(got > port + 1 && got <= port + 20, String(got));
    await assert.rejects(hostPortFinder(new Set([`tcp/${port + 1}`]))('tcp', '127.0.0.1', [port, port + 1]), /all ports are allocated/);
  } finally {
    busy.close();
  }
});

test('real finder: a host IP that is not on this host is a clear error', async () => {
  await assert.rejects(hostPortFinder(new Set())('tcp', '192.0.2.250'), /cannot publish a port on host address 192\.0\.2\.250: EADDRNOTAVAIL/);
});
